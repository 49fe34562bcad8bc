// Runs one command in a process group of its own and takes the whole group
// down with it: `node scripts/_group.mjs <deadline-ms> <cmd> [args...]`.
// scripts/_exec.mjs starts every command of the test scripts through it.
// Plain JS ESM that runs on Node 20.
//
// The command inherits this process's stdout and stderr; its exit code (or
// 128 + its signal's number) is this process's. Every process the command
// starts is in its group, unless it makes a group of its own (which the
// commands started through scripts/_exec.mjs do, each through another
// _group.mjs that dies with it). The group is SIGKILLed:
// - when the command has run `deadline-ms` (0: never); exit code 124;
// - when this process's stdin reaches its end: the caller holds its other
//   end, and the kernel closes it when the caller dies, even by SIGKILL.
//   No process of a killed test run is left orphaned, still running;
// - on SIGINT, SIGTERM or SIGHUP;
// - when the command exits while processes of its group still run: they
//   are killed, and the run fails (exit code 125 if the command succeeded),
//   because a test that leaves a process behind has a bug.
// On Windows, which has no process groups, only the command itself is killed.
import { spawn } from "node:child_process";
import { constants } from "node:os";
import process from "node:process";

const [deadlineArg, cmd, ...argv] = process.argv.slice(2);
const deadline = Number(deadlineArg);
if (!cmd || !Number.isInteger(deadline) || deadline < 0) {
  console.error("usage: node scripts/_group.mjs <deadline-ms> <cmd> [args...]");
  process.exit(2);
}
const GROUPS = process.platform !== "win32";
const say = (text) => process.stderr.write(`\n[_group.mjs] ${text}\n`);

const child = spawn(cmd, argv, {
  stdio: ["ignore", "inherit", "inherit"],
  detached: GROUPS, // a new process group, led by the command
});
let ended = false;

/** Sends `signal` to the command's group; whether any process received it. */
function signalGroup(signal) {
  try {
    if (GROUPS) process.kill(-child.pid, signal);
    else child.kill(signal);
    return true;
  } catch {
    return false; // ESRCH: nobody is left in the group
  }
}

function killAndExit(code, why) {
  if (why) say(why);
  signalGroup("SIGKILL");
  process.exit(code);
}

child.on("error", (error) => {
  ended = true;
  killAndExit(127, `${cmd}: ${error.message}`);
});
child.on("exit", (code, signal) => {
  ended = true;
  const status = code ?? 128 + (constants.signals[signal] ?? 0);
  // Signal 0 checks for members without harming them.
  if (GROUPS && signalGroup(0)) {
    killAndExit(
      status || 125,
      `${cmd} exited (${status}) leaving processes of its group running: ` +
        "killed them; a test must stop every process it starts",
    );
  }
  process.exit(status);
});

if (deadline > 0) {
  setTimeout(() => {
    if (!ended) {
      killAndExit(
        124,
        `${cmd}: killed after its ${deadline / 1000} s deadline`,
      );
    }
  }, deadline).unref();
}
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => killAndExit(128 + constants.signals[signal]));
}
process.stdin.on("end", () => killAndExit(1, "the caller is gone"));
process.stdin.on("error", () => killAndExit(1, "the caller is gone"));
process.stdin.resume();
