#!/usr/bin/env node
/**
 * The `vaekit` command. Commands are thin wrappers over @vaekit/trainer, exporter and runtime.
 *
 * Start-up declares the commands only: a command file imports commander, `shared/` option helpers and
 * types at its top, and loads the packages (tfjs, onnxruntime, protobufjs) with `await import()` inside
 * its action, so `vaekit --version` or `--help` loads none of them (test/first-contact.test.ts checks).
 * Commands never import one another; what they share lives in `shared/`.
 */
import { Command } from 'commander';
import { registerClassify, registerTrainClassify } from './commands/classify.js';
import { registerDemo } from './commands/demo.js';
import { registerExport, registerExportModel } from './commands/export.js';
import { registerInspect } from './commands/inspect.js';
import { registerReconstruct } from './commands/reconstruct.js';
import { registerSample } from './commands/sample.js';
import { registerEncode, registerGenerate, registerInterpolate } from './commands/generate.js';
import { registerPlot, registerReport } from './commands/report.js';
import { registerServeDemo } from './commands/serve-demo.js';
import { registerServe } from './commands/serve.js';
import { registerExportTriton } from './commands/export-triton.js';
import { registerDistill, registerEval, registerTrainText } from './commands/text.js';
import { registerTrain } from './commands/train.js';
import { registerTrainTranslate, registerTranslate } from './commands/translate.js';
import { reportError } from './errors.js';
import { VERSION } from './version.js';

const program = new Command('vaekit')
  .description('Train variational autoencoders with TensorFlow.js, export them to ONNX, run them with ONNX Runtime.')
  .version(VERSION)
  .option('--verbose', 'print stack traces and details of failures')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride();

const train = registerTrain(program);
registerTrainText(train);
registerTrainClassify(train);
registerTrainTranslate(train);
for (const register of [
  registerEval,
  registerClassify,
  registerTranslate,
  registerDistill,
  registerExport,
  registerExportModel,
  registerSample,
  registerReconstruct,
  registerGenerate,
  registerEncode,
  registerInterpolate,
  registerInspect,
  registerDemo,
  registerServeDemo,
  registerServe,
  registerExportTriton,
  registerReport,
  registerPlot,
]) {
  register(program);
}
const overrideExits = (cmd: Command): void => {
  cmd.exitOverride();
  cmd.commands.forEach(overrideExits);
};
overrideExits(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.exitCode = reportError(err, Boolean(program.opts().verbose) || process.argv.includes('--verbose'));
}
