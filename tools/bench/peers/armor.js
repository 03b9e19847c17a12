// GraphQL Armor on graphql-js, as `manage.py bench --peers` measures it (tools/bench/peers_bench.py).
// Reads one JSON object on stdin: {sdl, limits: {depth, aliases, tokens, cost}, documents: {name: query},
// hostile: {name: query}, repeat, min_time_ms, runs}; prints one JSON object: per document the median
// microseconds of one cold parse + validate (graphql-js's rules plus Armor's), and per hostile case
// the slowest of `runs` after one warm-up, with whether it was refused.
'use strict';
const { buildSchema, validate, specifiedRules } = require('graphql');
const { MaxTokensParserWLexer } = require('@escape.tech/graphql-armor-max-tokens');
const { maxDepthRule } = require('@escape.tech/graphql-armor-max-depth');
const { maxAliasesRule } = require('@escape.tech/graphql-armor-max-aliases');
const { costLimitRule } = require('@escape.tech/graphql-armor-cost-limit');

function main(input) {
  const schema = buildSchema(input.sdl);
  // Fragments flattened: depth counts fields, as gqlgov's max_depth does (Armor's default counts
  // each fragment spread as a level, and refuses the bench's large document at 12).
  const rules = [
    ...specifiedRules,
    maxDepthRule({ n: input.limits.depth, flattenFragments: true }),
    maxAliasesRule({ n: input.limits.aliases }),
    costLimitRule({ maxCost: input.limits.cost, flattenFragments: true }),
  ];
  // One check as a server would make it: Armor's token-limited parser, then every validation rule.
  const check = (query) => {
    try {
      const document = new MaxTokensParserWLexer(query, { n: input.limits.tokens }).parseDocument();
      return validate(schema, document, rules).length === 0;
    } catch (error) {
      return false; // a syntax error or the token limit: refused before validation
    }
  };
  const micros = (query) => {
    const begin = process.hrtime.bigint();
    const allowed = check(query);
    return [Number(process.hrtime.bigint() - begin) / 1000, allowed];
  };
  const median = (values) => values.slice().sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const cold = {};
  const allowed = {};
  for (const [name, query] of Object.entries(input.documents)) {
    for (let warm = 0; warm < 5; warm++) check(query);
    const samples = [];
    const started = Date.now();
    while (samples.length < input.repeat || Date.now() - started < input.min_time_ms) {
      const [us, ok] = micros(query);
      samples.push(us);
      allowed[name] = ok;
      if (samples.length > 50 * input.repeat) break;
    }
    cold[name] = median(samples);
  }
  const hostile = {};
  const refused = {};
  for (const [name, query] of Object.entries(input.hostile)) {
    let slowest = 0;
    for (let run = 0; run <= input.runs; run++) {
      if (global.gc) global.gc();
      const [us, ok] = micros(query);
      if (run) slowest = Math.max(slowest, us); // the first run warms the schema's caches
      refused[name] = !ok;
    }
    hostile[name] = slowest / 1000;
  }
  return { cold_us: cold, allowed, hostile_ms: hostile, hostile_refused: refused,
           node: process.version, graphql: require('graphql/package.json').version };
}

const chunks = [];
process.stdin.on('data', (chunk) => chunks.push(chunk));
process.stdin.on('end', () => {
  process.stdout.write(JSON.stringify(main(JSON.parse(Buffer.concat(chunks).toString('utf8')))) + '\n');
});
