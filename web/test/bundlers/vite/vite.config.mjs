// As the README's Vite section says: the dev server must not pre-bundle the
// package (its pre-bundled copy would look for the .wasm in node_modules/.vite).
export default {
  optimizeDeps: { exclude: ['@cloudbackup/core'] },
  logLevel: 'warn',
  build: { outDir: 'dist', emptyOutDir: true },
};
