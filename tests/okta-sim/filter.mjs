// Okta's SCIM-style expression language for `filter=` and `search=`:
//   attr op "value"   with op in eq ne gt ge lt le sw co ew
//   attr pr
//   expr and expr, expr or expr, ( expr )
// Operators and the keywords and/or are case-insensitive; attribute names are
// case-sensitive. Values are double-quoted strings (\" and \\ escapes), numbers,
// true, false or null.
//
// parseFilter() builds an AST and checks every comparison against a `schema`:
//   { attrs: { name: [allowed ops] }, dynamic?: (name) => [ops] | undefined,
//     dates?: Set(names compared as timestamps), caseInsensitive?: bool }
// Anything outside the schema (unknown attribute, disallowed operator, syntax
// error, over-long input) throws OktaError E0000031 (HTTP 400), as Okta does.

import { OktaError } from './http-util.mjs';

const MAX_FILTER_LENGTH = 4096;
const MAX_DEPTH = 32;
const OPS = new Set(['eq', 'ne', 'gt', 'ge', 'lt', 'le', 'sw', 'co', 'ew', 'pr']);

function invalid(why) {
  return new OktaError('E0000031', undefined, [why]);
}

function tokenize(src) {
  const tokens = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i];
    if (/\s/.test(c)) { i++; continue; }
    if (c === '(' || c === ')') { tokens.push({ t: c }); i++; continue; }
    if (c === '"') {
      let s = '';
      i++;
      for (;;) {
        if (i >= src.length) throw invalid('unterminated string');
        const d = src[i];
        if (d === '\\') {
          if (i + 1 >= src.length) throw invalid('unterminated string');
          s += src[i + 1];
          i += 2;
          continue;
        }
        if (d === '"') { i++; break; }
        s += d;
        i++;
      }
      tokens.push({ t: 'str', v: s });
      continue;
    }
    const m = /^[^\s()"]+/.exec(src.slice(i));
    tokens.push({ t: 'word', v: m[0] });
    i += m[0].length;
  }
  return tokens;
}

export function parseFilter(src, schema) {
  if (typeof src !== 'string' || !src.trim()) throw invalid('empty expression');
  if (src.length > MAX_FILTER_LENGTH) throw invalid('expression too long');
  const tokens = tokenize(src);
  let pos = 0;
  const peek = () => tokens[pos];
  const isWord = (tok, w) => tok && tok.t === 'word' && tok.v.toLowerCase() === w;

  function parseOr(depth) {
    let left = parseAnd(depth);
    while (isWord(peek(), 'or')) {
      pos++;
      left = { type: 'or', left, right: parseAnd(depth) };
    }
    return left;
  }
  function parseAnd(depth) {
    let left = parsePrimary(depth);
    while (isWord(peek(), 'and')) {
      pos++;
      left = { type: 'and', left, right: parsePrimary(depth) };
    }
    return left;
  }
  function parsePrimary(depth) {
    if (depth > MAX_DEPTH) throw invalid('expression nested too deeply');
    const tok = peek();
    if (!tok) throw invalid('unexpected end of expression');
    if (tok.t === '(') {
      pos++;
      const inner = parseOr(depth + 1);
      if (!peek() || peek().t !== ')') throw invalid('missing )');
      pos++;
      return inner;
    }
    if (tok.t !== 'word') throw invalid('expected an attribute name');
    if (isWord(tok, 'not')) throw invalid('the not operator is not supported');
    const attr = tok.v;
    pos++;
    const opTok = peek();
    if (!opTok || opTok.t !== 'word' || !OPS.has(opTok.v.toLowerCase())) {
      throw invalid(`expected an operator after ${attr}`);
    }
    const op = opTok.v.toLowerCase();
    pos++;
    checkSchema(attr, op, schema);
    if (op === 'pr') return { type: 'cmp', attr, op };
    const valTok = peek();
    if (!valTok) throw invalid(`missing value for ${attr}`);
    pos++;
    let value;
    if (valTok.t === 'str') value = valTok.v;
    else if (valTok.t === 'word' && /^(true|false)$/i.test(valTok.v)) value = valTok.v.toLowerCase() === 'true';
    else if (valTok.t === 'word' && /^null$/i.test(valTok.v)) value = null;
    else if (valTok.t === 'word' && /^-?\d+(\.\d+)?$/.test(valTok.v)) value = Number(valTok.v);
    else throw invalid(`invalid value for ${attr}`);
    if (schema.dates?.has(attr) && value !== null) {
      if (typeof value !== 'string' || Number.isNaN(Date.parse(value))) throw invalid(`${attr} needs an ISO 8601 timestamp`);
    }
    return { type: 'cmp', attr, op, value };
  }

  const ast = parseOr(0);
  if (pos !== tokens.length) throw invalid('unexpected trailing input');
  return ast;
}

function checkSchema(attr, op, schema) {
  const ops = schema.attrs[attr] ?? schema.dynamic?.(attr);
  if (!ops) throw invalid(`unsupported attribute: ${attr}`);
  if (!ops.includes(op)) throw invalid(`operator ${op} is not supported for ${attr}`);
}

// Evaluates the AST against an object. `get(obj, attr)` returns the attribute's
// value, or an array of values for multi-valued paths (e.g. target.id), where
// any match counts.
export function evaluate(ast, obj, get, schema) {
  switch (ast.type) {
    case 'and': return evaluate(ast.left, obj, get, schema) && evaluate(ast.right, obj, get, schema);
    case 'or': return evaluate(ast.left, obj, get, schema) || evaluate(ast.right, obj, get, schema);
    default: {
      const raw = get(obj, ast.attr);
      const values = Array.isArray(raw) ? raw : [raw];
      return values.some((v) => compare(v, ast, schema));
    }
  }
}

function compare(actual, { attr, op, value }, schema) {
  if (op === 'pr') return actual !== undefined && actual !== null && actual !== '';
  if (value === null) {
    if (op === 'eq') return actual === null || actual === undefined;
    if (op === 'ne') return !(actual === null || actual === undefined);
    return false;
  }
  if (actual === undefined || actual === null) return op === 'ne';
  if (schema.dates?.has(attr)) {
    const a = Date.parse(actual);
    const b = Date.parse(value);
    switch (op) {
      case 'eq': return a === b;
      case 'ne': return a !== b;
      case 'gt': return a > b;
      case 'ge': return a >= b;
      case 'lt': return a < b;
      case 'le': return a <= b;
      default: return false;
    }
  }
  let a = actual;
  let b = value;
  if (typeof a === 'string' && typeof b === 'string' && schema.caseInsensitive) {
    a = a.toLowerCase();
    b = b.toLowerCase();
  }
  if (typeof b === 'boolean' || typeof b === 'number') {
    if (typeof a === 'string') a = typeof b === 'number' ? Number(a) : a === 'true';
  } else {
    a = String(a);
  }
  switch (op) {
    case 'eq': return a === b;
    case 'ne': return a !== b;
    case 'gt': return a > b;
    case 'ge': return a >= b;
    case 'lt': return a < b;
    case 'le': return a <= b;
    case 'sw': return String(a).startsWith(String(b));
    case 'co': return String(a).includes(String(b));
    case 'ew': return String(a).endsWith(String(b));
    default: return false;
  }
}

// Reads a dotted path ("profile.login") from a plain object.
export function getPath(obj, path) {
  let cur = obj;
  for (const part of path.split('.')) {
    if (cur === null || cur === undefined) return undefined;
    if (Array.isArray(cur)) return cur.map((x) => x?.[part]);
    cur = cur[part];
  }
  return cur;
}
