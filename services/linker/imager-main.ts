/**
 * Entry point of PrintBox's Raspberry Pi Imager commands (services/linker/imager.ts), called by the
 * wrappers the image installs where Imager's firstrun.sh looks for Raspberry Pi OS's tools:
 *   /usr/lib/raspberrypi-sys-mods/imager_custom → imager-main.js imager_custom SUBCOMMAND ARGS…
 *   /usr/lib/userconf-pi/userconf               → imager-main.js userconf ARGS…
 * argv: [--root DIR] TOOL ARGS… — --root applies everything under DIR instead of / (tests).
 * Exit status: 0 done, 1 an error (in the journal), 2 wrong usage; firstrun.sh goes on either way.
 */
import { createLogger } from '../shared/log.ts';
import { runImagerCommand, runTool } from './imager.ts';

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  let root = '/';
  if (argv[0] === '--root' && argv[1]) { root = argv[1]; argv.splice(0, 2); }
  const tool = argv.shift() ?? '';
  const log = createLogger({ scope: 'imager', journal: Boolean(process.env.JOURNAL_STREAM) });
  return runImagerCommand({ root, log, run: runTool }, tool, argv);
}

main().then((code) => process.exit(code), (err: unknown) => {
  process.stderr.write(`printbox imager command failed: ${String((err as Error)?.message ?? err)}\n`);
  process.exit(1);
});
