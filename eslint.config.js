// Lint rules, including the layer table of DESIGN.md §3: each folder of src/ may import only
// the layers below it, and the pure layers may not touch node:*, the clock or randomness.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const LAYERS = [
  'model',
  'semantics',
  'openflow',
  'compiler',
  'sim',
  'ovsdb',
  'store',
  'api',
  'agent',
  'cli',
];

/** What each layer may import (DESIGN.md §3). */
const ALLOWED = {
  model: [],
  semantics: ['model'],
  openflow: [],
  compiler: ['model', 'openflow'],
  sim: ['model', 'openflow'],
  ovsdb: [],
  store: ['model'],
  api: ['model', 'store'],
  agent: ['model', 'semantics', 'openflow', 'compiler', 'sim', 'ovsdb', 'store'],
  cli: LAYERS.filter((l) => l !== 'cli'),
};

const PURE = ['model', 'semantics', 'openflow', 'compiler', 'sim'];

/** The only files of a pure layer that may do I/O. */
const IO_EXEMPT = ['src/openflow/connection.ts', 'src/openflow/connection/**'];

const impurity = {
  'no-restricted-properties': [
    'error',
    { object: 'Math', property: 'random', message: 'Pure layers take no randomness.' },
    { object: 'Date', property: 'now', message: 'Pure layers read no clock.' },
    { object: 'performance', property: 'now', message: 'Pure layers read no clock.' },
  ],
  'no-restricted-syntax': [
    'error',
    { selector: "NewExpression[callee.name='Date']", message: 'Pure layers read no clock.' },
  ],
};

function layerBlock(layer) {
  const forbidden = LAYERS.filter((l) => l !== layer && !ALLOWED[layer].includes(l));
  const patterns = forbidden.map((l) => ({
    group: [`**/${l}/**`, `**/${l}`, `../${l}/*`],
    message: `DESIGN.md §3: ${layer} may import only ${ALLOWED[layer].join(', ') || 'nothing of ours'}.`,
  }));
  if (layer === 'compiler' || layer === 'sim') {
    patterns.push({
      group: ['**/openflow/connection*', '**/openflow/connection/**'],
      message: `DESIGN.md §3: ${layer} may use the openflow IR, not the switch connection.`,
    });
  }
  const pure = PURE.includes(layer);
  if (pure)
    patterns.push({
      group: ['node:*'],
      message: `DESIGN.md §3: ${layer} is pure: no node:* import.`,
    });
  return [
    {
      files: [`src/${layer}/**/*.ts`],
      ignores: pure ? ['**/*.test.ts', ...IO_EXEMPT] : [],
      rules: { 'no-restricted-imports': ['error', { patterns }], ...(pure ? impurity : {}) },
    },
    // Tests and the I/O edge of a pure layer still keep the layer boundary.
    ...(pure
      ? [
          {
            files: [
              `src/${layer}/**/*.test.ts`,
              ...IO_EXEMPT.filter((f) => f.includes(`/${layer}/`)),
            ],
            rules: {
              'no-restricted-imports': [
                'error',
                { patterns: patterns.filter((p) => p.group[0] !== 'node:*') },
              ],
            },
          },
        ]
      : []),
  ];
}

export default tseslint.config(
  {
    ignores: ['dist/**', 'node_modules/**', 'coverage/**', 'bench/results/**', 'eslint.config.js'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowNumber: true, allowBoolean: true, allowNullish: true },
      ],
    },
  },
  {
    files: ['**/*.test.ts', 'test/**/*.ts', 'bench/**/*.ts'],
    rules: {
      '@typescript-eslint/no-floating-promises': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
    },
  },
  ...LAYERS.flatMap(layerBlock),
);
