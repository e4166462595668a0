// esbuild does not copy the .wasm: the inlined entry, as the README's esbuild section says.
import init, * as cb from '@cloudbackup/core/inline';
import { check, report } from '../check.js';

report(check(cb, () => init()));
