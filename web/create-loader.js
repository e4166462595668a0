// The loading functions of a wasm-bindgen module (init, initSync, retry after
// a failure), shared by loader.js (the whole package) and api.js
// (@cloudbackup/core/api). Imports no glue, so an entry pulls in only its own.

/**
 * The loading functions of one wasm-bindgen module (its glue's default
 * export and initSync).
 * @param {(input?: { module_or_path: import('./index.js').InitInput | Promise<import('./index.js').InitInput> }) => Promise<unknown>} glueInit
 * @param {(input: { module: BufferSource | WebAssembly.Module }) => unknown} glueInitSync
 */
export function createLoader(glueInit, glueInitSync) {
  /** @type {Promise<void> | null} */
  let ready = null;
  let loaded = false;

  /**
   * init() whose input is made only when loading starts (inline.js: the
   * base64 is decoded once, not on every call).
   * @param {() => import('./index.js').InitInput | Promise<import('./index.js').InitInput> | undefined} input
   * @returns {Promise<void>}
   */
  function initWith(input) {
    if (!ready) {
      const loading = Promise.resolve()
        .then(() => {
          const source = input();
          return glueInit(source === undefined ? undefined : { module_or_path: source });
        })
        .then(() => {
          loaded = true;
        });
      // A rejected promise is not kept: the caller sees the error, the next init() retries.
      loading.catch(() => {
        if (ready === loading) ready = null;
      });
      ready = loading;
    }
    return ready;
  }

  return {
    /** Whether the module is loaded (init() resolved or initSync() returned). */
    isLoaded: () => loaded,
    /**
     * Loads the WebAssembly module. Idempotent: later calls return the same
     * promise; after a failure (a 404, a network error) the next call tries again.
     * @param {import('./index.js').InitInput | Promise<import('./index.js').InitInput>} [input]
     * @returns {Promise<void>}
     */
    init: (input) => initWith(() => input),
    initWith,
    /**
     * Loads the module synchronously from its bytes or a compiled module
     * (a page's main thread may refuse to compile a module this size: use it in
     * Workers and node).
     * @param {BufferSource | WebAssembly.Module} module
     */
    initSync(module) {
      if (!loaded) {
        glueInitSync({ module });
        loaded = true;
        ready = Promise.resolve();
      }
    },
  };
}
