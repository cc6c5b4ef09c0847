#pragma once
// Entry points of kamwatch's subcommands. Each returns the process exit code:
// 0 success, 1 failure (a problem in the input or the run), 2 usage error.
#include <atomic>
#include <string>
#include <vector>

namespace kamwatch::app {

using Argv = std::vector<std::string>;

int cmd_run(const Argv& args);
int cmd_demo(const Argv& args);
int cmd_state(const Argv& args);
int cmd_config(const Argv& args);
int cmd_rules(const Argv& args);
int cmd_replay(const Argv& args);
int cmd_simulate(const Argv& args);
int cmd_version(const Argv& args);
int cmd_report(const Argv& args);
int main_dispatch(int argc, char** argv);

// Installs SIGINT/SIGTERM handlers that set the returned flag (idempotent).
const std::atomic<bool>& install_stop_signals();

}  // namespace kamwatch::app
