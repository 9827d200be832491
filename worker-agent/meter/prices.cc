#include "worker-agent/meter/prices.h"

#include <toml++/toml.h>

#include <algorithm>
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

Result<int64_t> ParseCount(const toml::node& node, std::string_view where) {
  auto n = node.as_integer();
  if (n == nullptr || n->get() <= 0) return BadEntry(where, "must be a positive integer");
  return n->get();
}

// One block of rates: the entry itself or one of its tier and long-context tables. Keys the
// block does not know are handed to `other` (which fails on those it does not know either).
template <class Other>
Result<Rates> ParseRates(const toml::table& t, const std::string& where, Other&& other) {
  Rates r;
  bool has_input = false, has_output = false, has_write = false, has_write_1h = false,
       has_read = false;
  for (auto& [key, value] : t) {
    std::string_view k = key.str();
    std::string at = where + "." + std::string(k);
    int64_t* slot = k == "input"            ? (has_input = true, &r.input)
                    : k == "output"         ? (has_output = true, &r.output)
                    : k == "cache_write"    ? (has_write = true, &r.cache_write)
                    : k == "cache_write_1h" ? (has_write_1h = true, &r.cache_write_1h)
                    : k == "cache_read"     ? (has_read = true, &r.cache_read)
                                            : nullptr;
    if (slot == nullptr) {
      if (auto done = other(k, value, at); !done) return done.error();
      continue;
    }
    auto price = ParsePrice(value, at);
    if (!price) return price.error();
    *slot = *price;
  }
  if (!has_input) return BadEntry(where, "input is missing");
  if (!has_output) return BadEntry(where, "output is missing");
  if (!has_write) r.cache_write = r.input;
  if (!has_write_1h) r.cache_write_1h = r.cache_write;
  if (!has_read) r.cache_read = r.input;
  return r;
}

Result<Rates> ParseTierRates(const toml::node& node, const std::string& where) {
  const toml::table* t = node.as_table();
  if (t == nullptr) return BadEntry(where, "must be a table");
  return ParseRates(*t, where, [](std::string_view, const toml::node&, const std::string& at) {
    return Result<void>(BadEntry(at, "unknown key"));
  });
}

Result<LongContext> ParseLongContext(const toml::node& node, const std::string& where) {
  const toml::table* t = node.as_table();
  if (t == nullptr) return BadEntry(where, "must be a table");
  LongContext lc;
  auto rates = ParseRates(
      *t, where,
      [&](std::string_view k, const toml::node& v, const std::string& at) -> Result<void> {
        if (k != "above_input_tokens") return BadEntry(at, "unknown key");
        auto n = ParseCount(v, at);
        if (!n) return n.error();
        lc.above_input_tokens = *n;
        return {};
      });
  if (!rates) return rates.error();
  if (lc.above_input_tokens == 0) return BadEntry(where, "above_input_tokens is missing");
  lc.rates = *rates;
  return lc;
}

struct ParsedModel {
  ModelPrice price;
  std::vector<std::string> aliases;
};

Result<ParsedModel> ParseModel(const toml::node& node, const std::string& where) {
  const toml::table* t = node.as_table();
  if (t == nullptr) return BadEntry(where, "must be a table");
  ParsedModel m;
  ModelPrice& p = m.price;
  auto rates = ParseRates(
      *t, where,
      [&](std::string_view k, const toml::node& v, const std::string& at) -> Result<void> {
        if (k == "max_output_tokens") {
          auto n = ParseCount(v, at);
          if (!n) return n.error();
          p.max_output_tokens = *n;
        } else if (k == "web_search_per_1000") {
          auto price = ParsePrice(v, at);
          if (!price) return price.error();
          p.web_search_per_1000 = *price;
        } else if (k == "priority" || k == "flex") {
          auto tier = ParseTierRates(v, at);
          if (!tier) return tier.error();
          (k == "priority" ? p.priority : p.flex) = *tier;
        } else if (k == "long_context") {
          auto lc = ParseLongContext(v, at);
          if (!lc) return lc.error();
          p.long_context = *lc;
        } else if (k == "aliases") {
          const toml::array* a = v.as_array();
          if (a == nullptr) return BadEntry(at, "must be a list of model names");
          for (const toml::node& alias : *a) {
            auto name = alias.value<std::string>();
            if (!name || name->empty()) return BadEntry(at, "must be a list of model names");
            m.aliases.push_back(*name);
          }
        } else {
          return BadEntry(at, "unknown key");
        }
        return {};
      });
  if (!rates) return rates.error();
  p.standard = *rates;
  return m;
}

// The dearest of everything `p` can charge, folded into `into`.
void FoldHighest(const ModelPrice& p, ModelPrice& into) {
  Rates& h = into.standard;
  h = Dearest(h, p.standard);
  if (p.priority) h = Dearest(h, *p.priority);
  if (p.flex) h = Dearest(h, *p.flex);
  if (p.long_context) h = Dearest(h, p.long_context->rates);
  into.web_search_per_1000 = std::max(into.web_search_per_1000, p.web_search_per_1000);
}

}  // namespace

int64_t Rates::dearest_input() const {
  return std::max({input, cache_write, cache_write_1h, cache_read});
}

Rates Dearest(const Rates& a, const Rates& b) {
  return {.input = std::max(a.input, b.input),
          .output = std::max(a.output, b.output),
          .cache_write = std::max(a.cache_write, b.cache_write),
          .cache_write_1h = std::max(a.cache_write_1h, b.cache_write_1h),
          .cache_read = std::max(a.cache_read, b.cache_read)};
}

Tier TierNamed(std::string_view name) {
  if (name == "priority") return Tier::kPriority;
  if (name == "flex") return Tier::kFlex;
  return Tier::kStandard;
}

Rates ModelPrice::RatesFor(Tier tier, int64_t prompt_tokens) const {
  const Rates* r = &standard;
  if (tier == Tier::kPriority && priority) r = &*priority;
  if (tier == Tier::kFlex && flex) r = &*flex;
  if (long_context && prompt_tokens > long_context->above_input_tokens) {
    return r == &standard ? long_context->rates : Dearest(*r, long_context->rates);
  }
  return *r;
}

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
      return BadEntry(k,
                      "is no longer read: a model without an entry is refused, unless the "
                      "agent's meter.allow_unpriced_models is set (it then pays the table's "
                      "highest prices)");
    }
    if (k != "models") return BadEntry(k, "unknown section (expected [models.\"NAME\"])");
    const toml::table* models = node.as_table();
    if (models == nullptr) return BadEntry("models", "must be a table of models");
    for (auto& [name, entry] : *models) {
      std::string where = "models.\"" + std::string(name.str()) + "\"";
      if (name.str().empty()) return BadEntry(where, "a model needs a name");
      auto m = ParseModel(entry, where);
      if (!m) return m.error();
      FoldHighest(m->price, table.highest_);
      table.models_.emplace(std::string(name.str()), m->price);
      for (std::string& alias : m->aliases) {
        auto [it, fresh] = table.aliases_.emplace(alias, std::string(name.str()));
        if (!fresh) {
          return BadEntry(where + ".aliases",
                          "\"" + alias + "\" is already an alias of \"" + it->second + "\"");
        }
      }
    }
  }
  for (const auto& [alias, entry] : table.aliases_) {
    if (table.models_.contains(alias)) {
      return BadEntry("models.\"" + entry + "\".aliases",
                      "\"" + alias + "\" has an entry of its own");
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
  if (auto a = aliases_.find(model); a != aliases_.end()) return models_.find(a->second)->second;
  return MakeError(ErrorCode::kUnknownModel,
                   "model \"" + std::string(model) +
                       "\" has no price in prices.toml (add it, or list it as an alias of a "
                       "model it is billed as)");
}

int64_t PriceTable::Cost(const ModelPrice& price, const TokenCounts& tokens, Tier tier) {
  return Cost(price.RatesFor(tier, tokens.prompt()), price.web_search_per_1000, tokens);
}

int64_t PriceTable::Cost(const Rates& rates, int64_t web_search_per_1000,
                         const TokenCounts& tokens) {
  auto term = [](int64_t count, int64_t per_million) -> __int128 {
    if (count <= 0 || per_million <= 0) return 0;
    return static_cast<__int128>(count) * per_million;
  };
  int64_t write_1h = std::clamp<int64_t>(tokens.cache_write_1h, 0, tokens.cache_write);
  __int128 sum =
      term(tokens.input, rates.input) + term(tokens.output, rates.output) +
      term(tokens.cache_write - write_1h, rates.cache_write) +
      term(write_1h, rates.cache_write_1h) + term(tokens.cache_read, rates.cache_read) +
      // per 1,000 searches = per million at 1,000 times the price
      term(std::min<int64_t>(tokens.web_search_requests, 1'000'000'000), web_search_per_1000) *
          1000;
  __int128 micros = (sum + 999'999) / 1'000'000;
  constexpr __int128 kMax = std::numeric_limits<int64_t>::max();
  return static_cast<int64_t>(micros > kMax ? kMax : micros);
}

}  // namespace autovibe::meter
