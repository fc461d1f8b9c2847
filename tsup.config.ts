import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { defineConfig, type Options } from 'tsup';
import ts from 'typescript';

/**
 * The runtime dependencies of the source (the design card's `zod/mini` and `p-retry`, and what p-retry
 * imports) are bundled into the build, tree-shaken to what m2m-token calls: the published package has
 * no `dependencies`, so installing it installs nothing else, and Node.js loads a few files instead of
 * zod's hundred modules. The optional peers (jose, ioredis, undici, axios) stay external: they are imported
 * only when a feature needs them, from the user's own installation.
 */
const bundled = ['zod', 'p-retry', 'is-network-error'];

const require = createRequire(import.meta.url);

/** The directory of an installed package (its package.json, found whatever its `exports` allow). */
function packageDir(name: string): string {
  let dir = dirname(require.resolve(name === 'zod' ? 'zod/mini' : name));
  while (!readdirSync(dir).includes('package.json') || JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')).name !== name) {
    if (dirname(dir) === dir) throw new Error(`package.json of ${name} not found`);
    dir = dirname(dir);
  }
  return dir;
}

/** dist/THIRD-PARTY-LICENSES.md: the name, version and licence text of each bundled package (MIT asks for it). */
function writeThirdPartyLicenses(): void {
  const sections = bundled.map((name) => {
    const dir = packageDir(name);
    const { version, license } = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    const file = readdirSync(dir).find((f) => /^licen[cs]e(\.md|\.txt)?$/i.test(f));
    if (file === undefined) throw new Error(`no licence file in ${name}`);
    return `## ${name}@${version} (${license})\n\n${readFileSync(join(dir, file), 'utf8').trim()}\n`;
  });
  writeFileSync(
    'dist/THIRD-PARTY-LICENSES.md',
    `# Third-party licences\n\nm2m-token's build bundles the parts it uses of these packages:\n\n${sections.join('\n')}`,
  );
}

/**
 * Minifies the bundled packages' modules as they are loaded, before tree-shaking: their code is a
 * quarter smaller in the package (zod's 49 kB, 36 kB), and nobody debugs zod's internals from a stack
 * trace. m2m-token's own code is not minified (see `sourcemap` below).
 */
const minifyBundled: NonNullable<Options['esbuildPlugins']>[number] = {
  name: 'minify-bundled',
  setup(build) {
    const filter = new RegExp(`[\\\\/]node_modules[\\\\/](${bundled.join('|')})[\\\\/].*\\.js$`);
    build.onLoad({ filter }, async (args) => {
      const { code } = await build.esbuild.transform(await readFile(args.path, 'utf8'), {
        // Not minifyWhitespace: it drops the `@__NO_SIDE_EFFECTS__` annotations tree-shaking needs (zod
        // then bundles twice as much). The bundle is printed with its line breaks either way.
        minifyIdentifiers: true,
        minifySyntax: true,
        format: 'esm',
        target: 'node20',
        legalComments: 'inline',
      });
      return { contents: code, loader: 'js' };
    });
  },
};

/**
 * Drops the comments of m2m-token's own modules from the JavaScript build (esbuild keeps those on class
 * members, object properties and some statements): the TSDoc ships in the type declarations, which an
 * editor shows, and the rest is in the source repository; in the code they added 18 kB to the package.
 * They are found by TypeScript's parser, not a pattern, so no string or regular expression that looks
 * like a comment is touched. Each becomes a space, so no two tokens are joined, or a line break when it
 * spans lines: a line break there can end a statement (`return /* … *\/ value`).
 */
const stripComments: NonNullable<Options['esbuildPlugins']>[number] = {
  name: 'strip-comments',
  setup(build) {
    const src = join(import.meta.dirname, 'src');
    build.onLoad({ filter: /\.ts$/ }, async (args) => {
      if (!args.path.startsWith(src)) return undefined;
      const text = await readFile(args.path, 'utf8');
      const file = ts.createSourceFile(args.path, text, ts.ScriptTarget.Latest, false, ts.ScriptKind.TS);
      const comments = new Map<number, number>();
      const visit = (node: ts.Node): void => {
        for (const range of [
          ...(ts.getLeadingCommentRanges(text, node.pos) ?? []),
          ...(ts.getTrailingCommentRanges(text, node.end) ?? []),
        ]) {
          comments.set(range.pos, range.end);
        }
        ts.forEachChild(node, visit);
      };
      visit(file);
      let out = '';
      let from = 0;
      for (const [pos, end] of [...comments].sort((x, y) => x[0] - y[0])) {
        out += `${text.slice(from, pos)}${text.slice(pos, end).includes('\n') ? '\n' : ' '}`;
        from = end;
      }
      return { contents: out + text.slice(from), loader: 'ts' };
    });
  },
};

const shared = {
  target: 'node20',
  platform: 'node',
  noExternal: bundled,
  treeshake: true,
  // No source maps in the package. The build is not minified: a stack trace points at readable
  // JavaScript with the source's names. A map without its sources would send debuggers to `src/*.ts`
  // files that are not shipped; with its sources it tripled the package (600 kB of 960 kB).
  sourcemap: false,
  esbuildPlugins: [minifyBundled, stripComments],
  // Licence comments of bundled code stay where they are; the licence texts go to
  // dist/THIRD-PARTY-LICENSES.md.
  esbuildOptions(options) {
    options.legalComments = 'inline';
  },
} satisfies Options;

const entries = {
  index: 'src/index.ts',
  redis: 'src/redis.ts',
  testing: 'src/testing.ts',
  undici: 'src/undici.ts',
  axios: 'src/axios.ts',
};

export default defineConfig([
  // The code: CommonJS (Node.js 20.18 cannot require() ES modules, and p-retry is ESM-only, so bundling
  // is needed here in any case), the library entries and the `m2m-token` command (package.json `bin`)
  // in one build, so that code they share lives in shared chunks loaded once, not copied into cli.cjs.
  {
    ...shared,
    entry: { ...entries, cli: 'src/cli.ts' },
    format: 'cjs',
    splitting: true,
    dts: { entry: entries },
    // The ES module entries (dist/<entry>.js, .d.ts) are written after this build by
    // scripts/esm-entries.mjs (`npm run build`): they re-export this build.
    async onSuccess() {
      writeThirdPartyLicenses();
    },
  },
]);
