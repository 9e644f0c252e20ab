#!/usr/bin/env node
// A native-`solc` stand-in built on solc-js (npm `solc`), for py-solc-x, eth-brownie and forge.
//
// solc-js's own CLI cannot serve them: it prints a `>>>` banner before the JSON, truncates
// piped output at 64 KiB (it calls process.exit before stdout drains) and rejects
// --allow-paths. This script speaks the small subset those tools use:
//   solc --version
//   solc --standard-json [--base-path DIR] [--include-path DIR]... [--allow-paths A,B] < input.json
// Imports resolve against the base path, every include path, and the node_modules folders
// above the current directory and above this script.
'use strict';

const fs = require('fs');
const path = require('path');

const solc = require(path.join(__dirname, '..', 'node_modules', 'solc'));

function usage(message) {
  process.stderr.write(`solc.cjs: ${message}\nusage: solc --version | solc --standard-json [--base-path DIR] [--include-path DIR] [--allow-paths LIST] < input.json\n`);
  process.exitCode = 2;
}

function parseArgs(argv) {
  const options = { mode: null, basePath: process.cwd(), includePaths: [] };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const takeValue = () => {
      const eq = arg.indexOf('=');
      if (eq >= 0) return arg.slice(eq + 1);
      if (i + 1 >= argv.length) throw new Error(`${arg} needs a value`);
      return argv[++i];
    };
    if (arg === '--version' || arg === '-v') options.mode = 'version';
    else if (arg === '--standard-json') options.mode = 'standard-json';
    else if (arg.startsWith('--base-path')) options.basePath = path.resolve(takeValue());
    else if (arg.startsWith('--include-path')) options.includePaths.push(path.resolve(takeValue()));
    else if (arg.startsWith('--allow-paths')) takeValue(); // reads are confined below; accepted for compatibility
    else if (arg === '-' ) continue;
    else throw new Error(`unsupported argument ${arg}`);
  }
  return options;
}

function nodeModulesAbove(start) {
  const found = [];
  let dir = path.resolve(start);
  for (;;) {
    const candidate = path.join(dir, 'node_modules');
    if (fs.existsSync(candidate)) found.push(candidate);
    const parent = path.dirname(dir);
    if (parent === dir) return found;
    dir = parent;
  }
}

function makeImportCallback(options) {
  const roots = [options.basePath, ...options.includePaths,
    ...nodeModulesAbove(process.cwd()), ...nodeModulesAbove(__dirname)];
  return (importPath) => {
    for (const root of roots) {
      const candidate = path.resolve(root, importPath);
      // Refuse `..` escapes out of the search roots: an import may not read arbitrary files.
      if (!candidate.startsWith(root + path.sep)) continue;
      if (fs.existsSync(candidate)) return { contents: fs.readFileSync(candidate, 'utf8') };
    }
    return { error: `File not found: ${importPath} (searched ${roots.join(', ')})` };
  };
}

function readStdin() {
  return fs.readFileSync(0, 'utf8');
}

function main() {
  let options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (err) {
    return usage(err.message);
  }
  if (options.mode === 'version') {
    // Same shape as native solc, which py-solc-x and forge parse.
    process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${solc.version()}\n`);
    return;
  }
  if (options.mode !== 'standard-json') return usage('choose --version or --standard-json');
  const output = solc.compile(readStdin(), { import: makeImportCallback(options) });
  // No process.exit(): let stdout drain so large outputs reach a pipe whole.
  process.stdout.write(output.endsWith('\n') ? output : output + '\n');
}

main();
