import { docTest } from './doc-test.js';

docTest('docs/validation-and-dead-letters.md');
