// Copies the files vendor.json lists from node_modules (installed by `npm ci` from package-lock.json)
// into gqlgov's static files, and writes manifest.json there naming each package's version: the
// console and the API docs load these, never a CDN, so they work offline. Run by `make vendor`.
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const config = JSON.parse(readFileSync(join(here, "vendor.json"), "utf8"));
const destination = resolve(here, config.destination);
rmSync(destination, { recursive: true, force: true });
const manifest = {};
for (const entry of config.packages) {
  const root = join(here, "node_modules", entry.package);
  const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  const target = join(destination, entry.to);
  mkdirSync(target, { recursive: true });
  for (const file of entry.files) {
    copyFileSync(join(root, file), join(target, basename(file)));  // throws (exit 1) on a missing file
  }
  manifest[entry.package] = { version, to: entry.to, files: entry.files.map((file) => basename(file)) };
}
writeFileSync(join(destination, "manifest.json"), JSON.stringify(manifest, null, 2) + "\n");
console.log(`vendored ${Object.keys(manifest).length} packages into ${destination}`);
