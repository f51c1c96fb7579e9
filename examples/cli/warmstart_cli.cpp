// warmstart: the command-line tool (docs/cli.md).
//
//   warmstart inspect PATH [flags]    list, print, summarise and verify a checkpoint
//   warmstart diff A B [--json]       compare two checkpoints tensor by tensor
//   warmstart convert SRC DST [--shards N]      rewrite as a V2 bundle
//   warmstart rename SRC DST --map OLD=NEW...   rename variables
//   warmstart average DST SRC...                average float tensors
//   warmstart export SRC OUT [--format safetensors|npz]   to safetensors / .npz
//   warmstart import IN DST [--shards N]        from safetensors / .npz to a V2 bundle
//   warmstart config get|set|json|check ...     read, edit and check a pipeline.config
//   warmstart plan --config FILE --model-... [--profile P]   restore / freeze plan of a fine-tune
//   warmstart model vars --config FILE [--json]  the SSD model's variables, built from a config
//   warmstart model run --config FILE --checkpoint PREFIX --image FILE   detections on one image
//   warmstart --version | --help
//
// Each subcommand lives in its own header beside this file as a class that declares its
// flags on the CLI11 app (constructor), says whether the command line chose it
// (selected()) and does the work (Run). main() only parses, dispatches and turns
// exceptions into exit codes (cli_common.hpp): 0 ok, 1 bad input, 2 usage error; every
// error is one line on stderr, "warmstart: error: <message>".
#include <exception>
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>

#include "cli_common.hpp"
#include "config.hpp"
#include "convert.hpp"
#include "diff.hpp"
#include "export.hpp"
#include "inspect.hpp"
#include "model.hpp"
#include "plan.hpp"

#ifndef WARMSTART_VERSION
#define WARMSTART_VERSION "0.1.0"
#endif

namespace {

namespace cli = warmstart::cli;

// CLI11 says "A subcommand is required" both for no command and for an unknown one;
// say which.
void RequireKnownCommand(const CLI::App& app, int argc, char** argv) {
  if (argc < 2) throw cli::UsageError("no command given: try 'warmstart inspect PATH' or 'warmstart --help'");
  if (argv[1][0] == '-') return;
  const std::string word = argv[1];
  std::string known;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->check_name(word)) return;
    known += (known.empty() ? "" : ", ") + sub->get_name();
  }
  throw cli::UsageError("unknown command '" + word + "' (commands: " + known + ")");
}

int Run(int argc, char** argv) {
  CLI::App app{"warmstart: read TensorFlow checkpoints without TensorFlow", "warmstart"};
  app.set_version_flag("--version", WARMSTART_VERSION);
  app.require_subcommand(1);
  app.footer("Exit codes: 0 ok, 1 invalid or corrupt input, 2 usage error. See docs/cli.md.");
  cli::InspectCommand inspect(&app);
  cli::DiffCommand diff(&app);
  cli::ConvertCommand convert(&app);
  cli::RenameCommand rename(&app);
  cli::AverageCommand average(&app);
  cli::ExportCommand export_command(&app);
  cli::ImportCommand import_command(&app);
  cli::ConfigCommand config(&app);
  cli::PlanCommand plan(&app);
  cli::ModelCommand model(&app);

  RequireKnownCommand(app, argc, argv);
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help, --version: printed to stdout, exit 0
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    throw cli::UsageError(e.what());
  }
  if (inspect.selected()) return inspect.Run(std::cout, std::cerr);
  if (diff.selected()) return diff.Run(std::cout, std::cerr);
  if (convert.selected()) return convert.Run(std::cout, std::cerr);
  if (rename.selected()) return rename.Run(std::cout, std::cerr);
  if (average.selected()) return average.Run(std::cout, std::cerr);
  if (export_command.selected()) return export_command.Run(std::cout, std::cerr);
  if (import_command.selected()) return import_command.Run(std::cout, std::cerr);
  if (config.selected()) return config.Run(std::cout, std::cerr);
  if (plan.selected()) return plan.Run(std::cout, std::cerr);
  if (model.selected()) return model.Run(std::cout, std::cerr);
  throw cli::UsageError("no command given: try 'warmstart --help'");
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return Run(argc, argv);
  } catch (const cli::UsageError& e) {
    cli::PrintError(std::cerr, e.what());
    return cli::kExitUsage;
  } catch (const std::exception& e) {  // warmstart::Error and everything else
    cli::PrintError(std::cerr, e.what());
    return cli::kExitBadInput;
  } catch (...) {
    cli::PrintError(std::cerr, "unknown exception");
    return cli::kExitBadInput;
  }
}
