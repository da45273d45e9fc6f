// Builds the console into dist/, which is committed and embedded into the
// hookrelay binary by build.rs (scripts/build-console rebuilds it and checks
// that the committed copy is current). The build is deterministic: content-
// hashed names, no source maps, no build time stamps.
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";

const gen = fileURLToPath(new URL("../clients/typescript/src/gen", import.meta.url));

export default defineConfig({
  // Relative asset URLs: the page works wherever the server mounts it.
  base: "./",
  resolve: {
    // The generated client, straight from clients/typescript.
    alias: { "@gen": gen },
    // The generated files sit beside clients/typescript/node_modules; one
    // copy of the protobuf runtime (ours) is bundled for both.
    dedupe: ["@bufbuild/protobuf"],
  },
  build: {
    outDir: process.env.HOOKRELAY_CONSOLE_OUT_DIR || "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    target: "es2022",
    reportCompressedSize: false,
    // The polyfill is an inline-free script but needless for the browsers
    // the console supports (every one with ES modules and import maps).
    modulePreload: { polyfill: false },
  },
});
