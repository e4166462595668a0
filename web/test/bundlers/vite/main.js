// The default entry, as the README's Vite section says: `import init` and await it.
import init, * as cb from '@cloudbackup/core';
import { check, report } from '../check.js';

report(check(cb, () => init()));
