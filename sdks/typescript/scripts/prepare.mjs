// The `prepare` script: npm runs it on `npm install` in this folder, on `npm pack` and
// `npm publish`, and in this folder when another project installs it by path
// (`npm install /path/to/sdks/typescript`). It builds dist/ (ESM) and dist/cjs/ (CommonJS).
//
// A project that installs this folder by path links it without installing its
// devDependencies, so when TypeScript is missing here they are installed first, from
// package-lock.json (as npm itself does before it prepares a git dependency).
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const require = createRequire(join(root, 'package.json'));

function resolvable(name) {
  try {
    require.resolve(`${name}/package.json`);
    return true;
  } catch {
    return false;
  }
}

// npm tells its scripts where its CLI is; running that with this node works on every
// platform (a bare `npm` needs a shell on Windows).
const npmCli = process.env.npm_execpath;
function npm(args, env = process.env) {
  const [cmd, argv] = npmCli && /\.[cm]?js$/.test(npmCli)
    ? [process.execPath, [npmCli, ...args]]
    : ['npm', args];
  execFileSync(cmd, argv, {
    cwd: root,
    env,
    stdio: 'inherit',
    shell: cmd === 'npm' && process.platform === 'win32',
  });
}

if (!resolvable('typescript') || !resolvable('@types/node')) {
  console.error('kaicalls: installing the devDependencies needed to build the SDK (npm ci)');
  // Settings of the outer install that must not apply here (a global install, omitted
  // dev dependencies, ...). --ignore-scripts: npm ci would run this script again.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) =>
        !/^npm_config_(global|location|prefix|omit|include|only|production|dev|install_links|workspaces?|include_workspace_root)$/i.test(
          key,
        ),
    ),
  );
  npm(['ci', '--include=dev', '--ignore-scripts', '--no-audit', '--no-fund'], env);
}

npm(['run', 'build']);
