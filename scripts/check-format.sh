#!/usr/bin/env bash
# Fails when a C++ file differs from .clang-format (Google style, 100 columns).
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.cc' '*.h' 2>/dev/null || find common controller worker-agent cli tests -name '*.cc' -o -name '*.h')
clang-format --dry-run --Werror $files
