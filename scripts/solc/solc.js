#!/usr/bin/env node
// Makes npm `solc` (wasm) behave like the native solc binary for the calls that
// py-solc-x and brownie make: `--version` and `--standard-json` on stdin.
// Imports are resolved the way native solc does: against --base-path (default:
// the working directory), then each --include-path, then as given.
'use strict';
const fs = require('fs');
const path = require('path');

const PROJECT = path.resolve(__dirname, '..', '..');
const solc = require(path.join(PROJECT, 'node_modules', 'solc'));

function parseArgs(argv) {
  const opts = { basePath: process.cwd(), includePaths: [], standardJson: false, version: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      if (arg.includes('=')) return arg.slice(arg.indexOf('=') + 1);
      i += 1;
      return argv[i];
    };
    if (arg === '--version' || arg === '-v') opts.version = true;
    else if (arg === '--standard-json') opts.standardJson = true;
    else if (arg.startsWith('--base-path')) opts.basePath = path.resolve(value());
    else if (arg.startsWith('--include-path')) opts.includePaths.push(path.resolve(value()));
    else if (arg.startsWith('--allow-paths')) value();
    // Other flags native solc accepts with --standard-json are irrelevant here.
  }
  return opts;
}

function readImport(opts, importPath) {
  const candidates = path.isAbsolute(importPath)
    ? [importPath]
    : [opts.basePath, ...opts.includePaths, PROJECT].map((root) => path.join(root, importPath));
  for (const candidate of candidates) {
    try {
      return { contents: fs.readFileSync(candidate, 'utf8') };
    } catch (err) {
      // try the next root
    }
  }
  return { error: `File not found: ${importPath} (searched ${candidates.join(', ')})` };
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (opts.version) {
    const full = solc.version().replace('.Emscripten.clang', '');
    process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${full}.Linux.g++\n`);
    return;
  }
  if (!opts.standardJson) {
    process.stderr.write('This solc shim only supports --version and --standard-json.\n');
    process.exit(1);
  }
  const input = fs.readFileSync(0, 'utf8');
  const output = solc.compile(input, { import: (p) => readImport(opts, p) });
  process.stdout.write(output);
}

main();
