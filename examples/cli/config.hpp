// warmstart config: read, edit and check a pipeline.config (protobuf text format).
//
//   warmstart config get FIELD.PATH FILE          the value(s): repeated fields one per line;
//                                                 modelled fields that are absent print their
//                                                 proto default, fine_tune_checkpoint_type its
//                                                 resolved type (spec section 2)
//   warmstart config set FIELD.PATH VALUE FILE [-o OUT]
//                                                 edit one value, everything else kept byte for
//                                                 byte; in place unless -o
//   warmstart config json FILE                    the whole file as JSON
//   warmstart config check FILE                   exit 0, or 1 with FILE:LINE:COL: message
//                                                 lines on stderr (strict: a field written twice
//                                                 is an error here, TF's Merge keeps the last)
//
// Output conventions (docs/cli.md): strings print as their decoded bytes, enums as their
// name, numbers as written in the file, bools as true/false, a message as canonical text.
// Exit codes as every command: 0 ok, 1 bad input, 2 usage.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <warmstart/config/pipeline.hpp>
#include <warmstart/config/schema.hpp>
#include <warmstart/config/text_format.hpp>
#include <warmstart/config/text_json.hpp>

#include "cli_common.hpp"

namespace warmstart::cli {

namespace config_cli {

// A value for `config get`: strings decoded, messages as canonical text (no trailing newline).
inline std::string Show(const config::Value& v) {
  if (v.kind() == config::ValueKind::kMessage) {
    std::string text = config::PrintText(v.AsMessage());
    while (!text.empty() && text.back() == '\n') text.pop_back();
    return text;
  }
  if (v.kind() == config::ValueKind::kBool) return v.AsBool() ? "true" : "false";
  return v.text();
}

// The command-line text VALUE as the value the schema wants at `path`; where the field is
// not modelled, as the kind of the value it replaces, else guessed from its spelling
// (number, true/false, an identifier is an enum, anything else a string).
inline config::Value ParseValue(const std::string& path, const std::string& text,
                                const config::FieldSchema* field, const config::Value* current) {
  using config::FieldType;
  using config::Value;
  using config::ValueKind;
  const auto as_number = [&]() {
    try {
      return Value::Number(text);
    } catch (const Error&) {
      throw UsageError("config set: '" + text + "' is not a number, and " + path + " needs one");
    }
  };
  const auto as_bool = [&]() {
    if (text == "true" || text == "True" || text == "t" || text == "1") return Value::Bool(true);
    if (text == "false" || text == "False" || text == "f" || text == "0") return Value::Bool(false);
    throw UsageError("config set: '" + text + "' is not a bool (true or false), and " + path + " needs one");
  };
  if (field != nullptr) {
    switch (field->type) {
      case FieldType::kMessage:
        throw UsageError("config set: " + path + " is a message; set one of its fields instead");
      case FieldType::kString:
        return Value::String(text);
      case FieldType::kBool:
        return as_bool();
      case FieldType::kEnum:
        if (!field->enum_type->Has(text)) {
          std::string names;
          for (const auto& [name, number] : field->enum_type->values) names += (names.empty() ? "" : ", ") + name;
          throw UsageError("config set: '" + text + "' is not a value of " + field->enum_type->full_name + " (" + names +
                           ")");
        }
        return Value::Enum(text);
      default:
        return as_number();
    }
  }
  if (current != nullptr) {
    switch (current->kind()) {
      case ValueKind::kMessage:
        throw UsageError("config set: " + path + " is a message; set one of its fields instead");
      case ValueKind::kString:
        return Value::String(text);
      case ValueKind::kBool:
        return as_bool();
      case ValueKind::kIdentifier:
        return Value::Enum(text);
      case ValueKind::kNumber:
        return as_number();
    }
  }
  try {
    return Value::Number(text);
  } catch (const Error&) {
  }
  if (text == "true" || text == "false") return Value::Bool(text == "true");
  if (config::detail::IsIdentifier(text)) return Value::Enum(text);
  return Value::String(text);
}

// JSON hints from the schema: every field of the file the schema knows as repeated or enum.
inline void CollectSchemaHints(const config::Message& m, const config::MessageSchema* schema, const std::string& prefix,
                               config::JsonHints* hints) {
  for (const config::Field& f : m.fields()) {
    const std::string path = prefix.empty() ? f.name : prefix + "." + f.name;
    const config::FieldSchema* fs = schema != nullptr ? schema->Find(f.name) : nullptr;
    if (fs != nullptr && fs->repeated) hints->repeated.insert(path);
    if (fs != nullptr && fs->type == config::FieldType::kEnum) hints->enums.insert(path);
    if (f.value.kind() == config::ValueKind::kMessage) {
      const config::MessageSchema* sub =
          fs != nullptr && fs->is_message() && !fs->type_name.empty() ? config::OdSchema().FindMessage(fs->type_name)
                                                                      : nullptr;
      CollectSchemaHints(f.value.AsMessage(), sub, path, hints);
    } else if (fs == nullptr && f.value.kind() == config::ValueKind::kIdentifier) {
      hints->enums.insert(path);  // not modelled: an identifier in the file is an enum
    }
  }
}

}  // namespace config_cli

struct ConfigOptions {
  std::vector<std::string> get_args;  // FIELD.PATH FILE
  std::vector<std::string> set_args;  // FIELD.PATH VALUE FILE
  std::string output;
  std::string json_file;
  std::string check_file;
};

class ConfigCommand {
 public:
  explicit ConfigCommand(CLI::App* parent) {
    app_ = parent->add_subcommand("config", "Read, edit and check a pipeline.config");
    app_->require_subcommand(1);
    app_->footer("Exit codes: 0 ok, 1 invalid input (check: the file has errors), 2 usage error. See docs/cli.md.");
    get_ = app_->add_subcommand("get", "Print the value(s) of FIELD.PATH (defaults applied for modelled fields)");
    get_->add_option("args", options_.get_args, "FIELD.PATH FILE")->type_name("FIELD.PATH FILE")->required();
    set_ = app_->add_subcommand("set", "Set FIELD.PATH to VALUE, keeping the rest of the file byte for byte");
    set_->add_option("args", options_.set_args, "FIELD.PATH VALUE FILE")->type_name("FIELD.PATH VALUE FILE")->required();
    set_->add_option("-o,--output", options_.output, "Write here instead of editing FILE in place")->type_name("OUT");
    json_ = app_->add_subcommand("json", "Print the file as JSON");
    json_->add_option("file", options_.json_file, "pipeline.config")->type_name("FILE")->required();
    check_ = app_->add_subcommand("check", "Check the file; print FILE:LINE:COL: message for each problem");
    check_->add_option("file", options_.check_file, "pipeline.config")->type_name("FILE")->required();
  }

  bool selected() const { return app_->parsed(); }

  int Run(std::ostream& out, std::ostream& err) {
    if (get_->parsed()) return RunGet(out, err);
    if (set_->parsed()) return RunSet(out, err);
    if (json_->parsed()) return RunJson(out);
    if (check_->parsed()) return RunCheck(out, err);
    throw UsageError("config: expected get, set, json or check");
  }

 private:
  static void PrintNotes(const config::PipelineConfig& pc, std::ostream& err) {
    for (const config::Diagnostic& d : pc.diagnostics()) err << "note: " << d.ToString() << "\n";
  }

  int RunGet(std::ostream& out, std::ostream& err) const {
    if (options_.get_args.size() != 2) throw UsageError("config get: expected FIELD.PATH FILE");
    const std::string& path = options_.get_args[0];
    const config::PipelineConfig pc = config::PipelineConfig::Load(options_.get_args[1]);
    PrintNotes(pc, err);
    // An explicit index names one occurrence: no default stands in for a missing one.
    if (path.find('[') != std::string::npos && pc.document().root().FindAll(path).empty()) {
      throw NotFoundError(ErrorContext(options_.get_args[1]).WithKey(path), "the file has no such occurrence");
    }
    const config::FieldLookup found = pc.GetWithDefault(path);
    for (const config::Value& v : found.values) out << config_cli::Show(v) << "\n";
    if (found.resolved) {
      err << "note: " << path << " is not set; resolved from from_detection_checkpoint ("
          << (pc.train().from_detection_checkpoint ? "true" : "false") << ")\n";
    } else if (found.is_default) {
      err << "note: " << path << " is not set; printed its default\n";
    }
    return kExitOk;
  }

  int RunSet(std::ostream& out, std::ostream& err) const {
    (void)out;
    if (options_.set_args.size() != 3) throw UsageError("config set: expected FIELD.PATH VALUE FILE");
    const std::string& path = options_.set_args[0];
    const std::string& text = options_.set_args[1];
    const std::string& file = options_.set_args[2];
    config::PipelineConfig pc = config::PipelineConfig::Load(file);
    const config::FieldSchema* field = config::PipelineConfig::SchemaFieldAt(path);
    const config::Value* current = pc.document().root().FindLast(path);
    const bool indexed = path.find('[', path.rfind('.') == std::string::npos ? 0 : path.rfind('.')) != std::string::npos;
    if (field != nullptr && field->repeated && !indexed) {
      throw UsageError("config set: " + path + " is a repeated field; give one element as " + path + "[i]");
    }
    const config::Value value = config_cli::ParseValue(path, text, field, current);
    const std::string before = current != nullptr ? config_cli::Show(*current) : std::string();
    const bool existed = current != nullptr;
    pc.mutable_document().root().Set(path, value);
    // The edited text must still load (the same checks as reading it would make).
    const std::string edited = pc.document().Print();
    const std::string target = options_.output.empty() ? file : options_.output;
    const config::PipelineConfig after = config::PipelineConfig::Parse(edited, target);
    if (after.diagnostics().size() > pc.diagnostics().size()) {
      throw FormatError(ErrorContext(file).WithKey(path),
                        "refused: the edit would make the file fail `config check`: " +
                            after.diagnostics().back().message);
    }
    pc.document().Save(target);
    err << "set " << path << " = " << config_cli::Show(value)
        << (existed ? " (was " + before + ")" : std::string(" (was not set)")) << " in " << target << "\n";
    return kExitOk;
  }

  int RunJson(std::ostream& out) const {
    const config::PipelineConfig pc = config::PipelineConfig::Load(options_.json_file);
    config::JsonHints hints;
    config_cli::CollectSchemaHints(pc.document().root(),
                                   &config::OdSchema().Message(config::kPipelineConfigType), "", &hints);
    const nlohmann::ordered_json doc = config::ToJson(pc.document().root(), hints);
    out << doc.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) << "\n";
    return kExitOk;
  }

  // Every problem as FILE:LINE:COL: message. A syntax or schema error stops the reading
  // (one line); Merge-accepted oddities are all listed.
  int RunCheck(std::ostream& out, std::ostream& err) const {
    std::vector<config::Diagnostic> problems;
    try {
      const config::PipelineConfig pc = config::PipelineConfig::Load(options_.check_file);
      problems = pc.diagnostics();
    } catch (const FormatError& e) {
      err << e.what() << "\n";
      return kExitBadInput;
    }
    for (const config::Diagnostic& d : problems) err << d.ToString() << "\n";
    if (!problems.empty()) return kExitBadInput;
    out << options_.check_file << ": ok\n";
    return kExitOk;
  }

  CLI::App* app_ = nullptr;
  CLI::App* get_ = nullptr;
  CLI::App* set_ = nullptr;
  CLI::App* json_ = nullptr;
  CLI::App* check_ = nullptr;
  ConfigOptions options_;
};

}  // namespace warmstart::cli
