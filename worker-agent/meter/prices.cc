#include "worker-agent/meter/prices.h"

#include <toml++/toml.h>

#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>

#include "common/budget/amounts.h"
#include "worker-agent/meter/builtin_prices.h"

namespace autovibe::meter {
namespace {

Error BadEntry(std::string_view where, std::string_view why) {
  return MakeError(ErrorCode::kBadConfig,
                   "prices: " + std::string(where) + ": " + std::string(why));
}

// A price as written (3, 3.0, 0.075) -> micro-dollars per million tokens. A TOML float is
// turned back into the shortest decimal that reads as the same double, which is the text the
// user wrote whenever it has 15 significant digits or fewer; that decimal must then have at
// most six decimals and no sign, exactly.
Result<int64_t> ParsePrice(const toml::node& node, std::string_view where) {
  constexpr int64_t kMaxDollars = 1'000'000'000'000;
  if (auto i = node.as_integer()) {
    int64_t v = i->get();
    if (v < 0 || v >= kMaxDollars) return BadEntry(where, "must be a price from 0 up");
    return v * 1'000'000;
  }
  auto f = node.as_floating_point();
  if (f == nullptr) return BadEntry(where, "must be a number of dollars per million tokens");
  char text[400];
  auto [end, ec] = std::to_chars(text, text + sizeof text, f->get(), std::chars_format::fixed);
  std::string_view written(text, ec == std::errc() ? end - text : 0);
  auto micros = ParseUsd(written);
  if (!micros) {
    return BadEntry(
        where, "must be a price from 0 up with at most six decimals, not " + std::string(written));
  }
  return *micros;
}

Result<ModelPrice> ParseModel(const toml::node& node, const std::string& where) {
  const toml::table* t = node.as_table();
  if (t == nullptr) return BadEntry(where, "must be a table");
  ModelPrice p;
  bool has_input = false, has_output = false, has_write = false, has_read = false;
  for (auto& [key, value] : *t) {
    std::string_view k = key.str();
    std::string at = where + "." + std::string(k);
    if (k == "max_output_tokens") {
      auto n = value.as_integer();
      if (n == nullptr || n->get() <= 0) return BadEntry(at, "must be a positive integer");
      p.max_output_tokens = n->get();
      continue;
    }
    int64_t* slot = k == "input"         ? (has_input = true, &p.input)
                    : k == "output"      ? (has_output = true, &p.output)
                    : k == "cache_write" ? (has_write = true, &p.cache_write)
                    : k == "cache_read"  ? (has_read = true, &p.cache_read)
                                         : nullptr;
    if (slot == nullptr) return BadEntry(at, "unknown key");
    auto price = ParsePrice(value, at);
    if (!price) return price.error();
    *slot = *price;
  }
  if (!has_input) return BadEntry(where, "input is missing");
  if (!has_output) return BadEntry(where, "output is missing");
  if (!has_write) p.cache_write = p.input;
  if (!has_read) p.cache_read = p.input;
  return p;
}

}  // namespace

Result<PriceTable> PriceTable::Parse(std::string_view toml_text) {
  toml::table root;
  try {
    root = toml::parse(toml_text);
  } catch (const toml::parse_error& e) {
    return MakeError(ErrorCode::kBadConfig,
                     "prices: not valid TOML: " + std::string(e.description()) + " at line " +
                         std::to_string(e.source().begin.line));
  }
  PriceTable table;
  for (auto& [key, node] : root) {
    std::string_view k = key.str();
    if (k == "default") {
      auto p = ParseModel(node, "default");
      if (!p) return p.error();
      table.default_ = *p;
    } else if (k == "models") {
      const toml::table* models = node.as_table();
      if (models == nullptr) return BadEntry("models", "must be a table of models");
      for (auto& [name, entry] : *models) {
        std::string where = "models.\"" + std::string(name.str()) + "\"";
        if (name.str().empty()) return BadEntry(where, "a model needs a name");
        auto p = ParseModel(entry, where);
        if (!p) return p.error();
        table.models_.emplace(std::string(name.str()), *p);
      }
    } else {
      return BadEntry(k, "unknown section (expected [default] or [models.\"NAME\"])");
    }
  }
  return table;
}

const PriceTable& PriceTable::BuiltIn() {
  static const PriceTable table = [] {
    auto parsed = Parse(kBuiltinPricesToml);
    if (!parsed) {
      // The file is checked by the unit tests; reaching this is a build defect.
      std::fprintf(stderr, "built-in prices.toml is broken: %s\n", parsed.error().message.c_str());
      std::abort();
    }
    return *std::move(parsed);
  }();
  return table;
}

Result<ModelPrice> PriceTable::Find(std::string_view model) const {
  if (auto it = models_.find(model); it != models_.end()) return it->second;
  // The longest entry the name starts with. Every prefix of `model` sorts before it, and a
  // longer prefix after a shorter one, so walking back from `model`'s place the first prefix
  // met is the longest; names that no longer share the first character end the walk.
  for (auto it = models_.upper_bound(model); it != models_.begin();) {
    --it;
    const std::string& name = it->first;
    if (model.empty() || name.empty() || name[0] != model[0]) break;
    if (model.starts_with(name)) return it->second;
  }
  if (default_) return *default_;
  return MakeError(
      ErrorCode::kUnknownModel,
      "model \"" + std::string(model) + "\" has no price in prices.toml (and no [default] is set)");
}

int64_t PriceTable::Cost(const ModelPrice& price, const TokenCounts& tokens) {
  auto term = [](int64_t count, int64_t per_million) -> __int128 {
    if (count <= 0 || per_million <= 0) return 0;
    return static_cast<__int128>(count) * per_million;
  };
  __int128 sum = term(tokens.input, price.input) + term(tokens.output, price.output) +
                 term(tokens.cache_write, price.cache_write) +
                 term(tokens.cache_read, price.cache_read);
  __int128 micros = (sum + 999'999) / 1'000'000;
  constexpr __int128 kMax = std::numeric_limits<int64_t>::max();
  return static_cast<int64_t>(micros > kMax ? kMax : micros);
}

}  // namespace autovibe::meter
