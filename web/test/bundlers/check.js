// What each bundled page does with the package (shared by the Vite and the
// esbuild fixture): the "call init() first" error, init(), a few calls, a
// typed error, a small vault. The result goes into <body data-result>.
/** @param {any} cb the package's namespace @param {() => Promise<void>} init */
export async function check(cb, init) {
  const out = {};
  try {
    cb.allowedActions('restore', 'in_progress');
    out.beforeInit = 'no error';
  } catch (e) {
    out.beforeInit = `${e.name}: ${e instanceof cb.InvalidStateError && e instanceof cb.CloudBackupError}`;
  }
  const t0 = performance.now();
  await init();
  out.initMs = Math.round(performance.now() - t0);
  out.version = cb.version();
  out.actions = cb.allowedActions('restore', 'in_progress');
  try {
    cb.validatePatch('restore', { state: 'in_progress' }, [{ op: 'remove', path: '/state' }], 'agent');
    out.patch = 'no error';
  } catch (e) {
    out.patch = `${e.name} ${e.code} ${e instanceof cb.PatchRejectedError}`;
  }
  const vault = cb.Vault.create('pw', null, { memory_kib: 8, iterations: 1, parallelism: 1 });
  out.reopened = cb.Vault.open(vault.config(), 'pw').info().vault_id === vault.info().vault_id;
  return out;
}

/** @param {Promise<unknown>} result */
export function report(result) {
  result.then(
    (r) => { document.body.dataset.result = JSON.stringify(r); },
    (e) => { document.body.dataset.result = JSON.stringify({ error: String(e && e.stack || e) }); },
  );
}
