#include "cli/secret_cmd.h"

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>

#include "cli/client.h"
#include "cli/json_output.h"
#include "cli/table.h"
#include "cli/verbs.h"
#include "common/core/text.h"

namespace autovibe::cli {
namespace json = boost::json;
namespace {

// The controller's limit on a value (controller/secrets/secret_store.h).
constexpr size_t kMaxValueBytes = 64 << 10;

// At most kMaxValueBytes + 1 bytes of `in`: enough to tell a value that is too large.
std::string ReadCapped(std::istream& in) {
  std::string out(kMaxValueBytes + 1, '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<size_t>(in.gcount()));
  return out;
}

CliResult<std::string> ReadValue(const std::string& file, std::istream& stdin_stream) {
  std::string value;
  const std::string what = file == "-" ? "stdin" : file;
  if (file == "-") {
    value = ReadCapped(stdin_stream);
  } else {
    std::ifstream in(file, std::ios::binary);
    if (!in)
      return CliError{kExitUsage, "--from-file: cannot read " + file + ": " + std::strerror(errno)};
    value = ReadCapped(in);
  }
  if (value.size() > kMaxValueBytes) {
    return CliError{kExitUsage, "--from-file: " + what +
                                    " holds more than 64 KiB; a secret's "
                                    "value is at most 65536 bytes"};
  }
  if (ValidUtf8(value) != value) {
    return CliError{kExitUsage, "--from-file: " + what +
                                    " is not UTF-8 text; base64-encode a binary value first"};
  }
  return value;
}

void PrintSecretTable(std::ostream& out, const json::array& secrets, int64_t now_ms) {
  Table table({"NAME", "SIZE", "CREATED", "UPDATED"});
  for (const auto& item : secrets) {
    if (!item.is_object()) continue;
    const json::object& s = item.get_object();
    const auto size = IntField(s, "size");
    table.AddRow({OrDash(StringField(s, "name")),
                  size ? FormatBytes(static_cast<uint64_t>(*size)) : "-",
                  AgeField(s, "created_at", now_ms), AgeField(s, "updated_at", now_ms)});
  }
  table.Print(out);
}

}  // namespace

void AddSecretCommands(CLI::App& app, Invocation& inv) {
  CLI::App* secret =
      app.add_subcommand("secret", "Secrets for tasks: repository credentials, forge tokens");
  secret->require_subcommand(1);

  CLI::App* set = secret->add_subcommand(
      "set", "Create or replace a secret; its value is never shown again. Prints its name");
  auto name = std::make_shared<std::string>();
  auto file = std::make_shared<std::string>();
  set->add_option("NAME", *name, "Secret name: 1-64 of A-Z a-z 0-9 . _ -")->required();
  set->add_option("--from-file", *file,
                  "The file holding the value, sent byte for byte ('-': standard input)")
      ->required()
      ->type_name("F");
  set->callback([&inv, name, file] {
    inv.command = "secret set";
    inv.action = [name, file](CommandContext& ctx) {
      return SetSecret(ctx, *name, *file, std::cin);
    };
  });
  AddVerb(*secret, inv, "list", "List secrets: names, sizes and times, never values", ListSecrets);
  AddVerbWithArgument(*secret, inv, "delete", "Delete a secret", "NAME", "Secret name",
                      DeleteSecret);
}

CliStatus SetSecret(CommandContext& ctx, const std::string& name, const std::string& file,
                    std::istream& stdin_stream) {
  auto value = ReadValue(file, stdin_stream);
  if (!value) return value.error();
  const std::string path = "/v1/secrets/" + PathSegment(name);
  auto body = ctx.client.Call("PUT", path, json::serialize(json::object{{"value", *value}}));
  if (!body) return body.error();
  return PrintCreated(ctx, *body, "PUT " + path, "name");
}

CliStatus ListSecrets(CommandContext& ctx) {
  return GetAndPrintList(ctx, "/v1/secrets", "secrets", "no secrets",
                         [&](const json::array& s) { PrintSecretTable(ctx.out, s, ctx.now_ms); });
}

CliStatus DeleteSecret(CommandContext& ctx, const std::string& name) {
  const std::string path = "/v1/secrets/" + PathSegment(name);
  return CallAndPrint(ctx, "DELETE", path,
                      [&](const json::object&) { ctx.out << "deleted secret " << name << '\n'; });
}

}  // namespace autovibe::cli
