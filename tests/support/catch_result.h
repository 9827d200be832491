// Lets Catch print a Result<T> in assertion messages whatever T is.
#pragma once

#include <catch2/catch.hpp>

#include "common/core/result.h"

namespace Catch {

template <class T>
struct StringMaker<autovibe::Result<T>> {
  static std::string convert(const autovibe::Result<T>& r) {
    if (r) return "ok";
    return "error " + std::string(autovibe::ErrorName(r.error().code)) + ": " + r.error().message;
  }
};

}  // namespace Catch
