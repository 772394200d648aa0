// Builds the demo UI into dist/: a static page that shows the version from package.json.
const fs = require("fs");
const path = require("path");

const pkg = JSON.parse(fs.readFileSync(path.join(__dirname, "package.json"), "utf8"));
const out = path.join(__dirname, "dist");
fs.rmSync(out, { recursive: true, force: true });
fs.mkdirSync(path.join(out, "assets"), { recursive: true });
fs.writeFileSync(
  path.join(out, "index.html"),
  `<!doctype html>\n<html><head><title>demo ${pkg.version}</title>` +
    `<link rel="stylesheet" href="assets/app.css"></head>\n` +
    `<body><h1>demo UI</h1><p id="version">${pkg.version}</p></body></html>\n`
);
fs.writeFileSync(path.join(out, "assets", "app.css"), "body { font-family: sans-serif; }\n");
fs.writeFileSync(path.join(out, "version.json"), JSON.stringify({ version: pkg.version }) + "\n");
console.log(`built demo UI ${pkg.version} into ${out}`);
