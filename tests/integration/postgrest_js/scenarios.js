// Runs named @supabase/postgrest-js scenarios against a data route and
// prints one JSON object: {"<name>": {status, data, error, count}, ...}.
//
//   node scenarios.js URL NAME...
//
// URL is the route's base (http://127.0.0.1:PORT/api). The module is
// loaded from PGJS_MODULES (a folder holding node_modules, installed with
// `npm ci` from this folder's package-lock.json), so the source tree never
// holds node_modules. Scenarios run one after the other, in the order
// given; each is one client call whose whole result is reported, so the
// caller (test_postgrest.py) compares exact rows and error objects.
// With PGJS_TOKEN set, the client sends it as "Authorization: Bearer"
// (a JWT, test_data_jwt.py).
'use strict';

const path = require('path');

const modules = process.env.PGJS_MODULES;
if (!modules) {
  console.error('PGJS_MODULES is not set');
  process.exit(2);
}
const { PostgrestClient } = require(path.join(modules, 'node_modules', '@supabase', 'postgrest-js'));

// Each scenario takes the client and returns the builder (a thenable).
const scenarios = {
  // --- reading ---------------------------------------------------------
  select_all: (c) => c.from('notes').select('*').order('id'),
  select_columns: (c) => c.from('notes').select('id,title').order('id'),
  select_alias: (c) => c.from('notes').select('heading:title,id').order('id'),
  select_cast: (c) => c.from('kinds').select('id,i::text,label:t').order('id'),
  select_bad_cast: (c) => c.from('kinds').select('i::regclass'),
  select_unknown_column: (c) => c.from('notes').select('nosuch'),
  eq: (c) => c.from('notes').select('id').eq('title', 'beta'),
  neq: (c) => c.from('notes').select('id').neq('title', 'beta').order('id'),
  gt_lt: (c) => c.from('notes').select('id').gt('id', 1).lt('id', 4).order('id'),
  gte_lte: (c) => c.from('notes').select('id').gte('id', 2).lte('id', 3).order('id'),
  like: (c) => c.from('notes').select('title').like('title', '%ta').order('id'),
  ilike: (c) => c.from('notes').select('title').ilike('title', 'B%').order('id'),
  in_list: (c) => c.from('notes').select('id').in('title', ['alpha', 'gamma', 'a,b (q)']).order('id'),
  is_null: (c) => c.from('notes').select('id').is('body', null).order('id'),
  not_is_null: (c) => c.from('notes').select('id').not('body', 'is', null).order('id'),
  not_eq: (c) => c.from('notes').select('id').not('title', 'eq', 'alpha').order('id'),
  or_simple: (c) => c.from('notes').select('id').or('title.eq.alpha,title.eq.delta').order('id'),
  or_nested: (c) => c.from('notes').select('id')
    .or('title.eq.alpha,and(id.gte.3,body.is.null)').order('id'),
  order_desc: (c) => c.from('notes').select('id').order('title', { ascending: false }),
  order_nulls: (c) => c.from('notes').select('id,body')
    .order('body', { ascending: true, nullsFirst: true }).order('id'),
  order_nulls_last_desc: (c) => c.from('notes').select('id')
    .order('body', { ascending: false, nullsFirst: false }).order('id'),
  limit: (c) => c.from('notes').select('id').order('id').limit(2),
  range: (c) => c.from('notes').select('id').order('id').range(1, 2),
  count_exact: (c) => c.from('notes').select('id', { count: 'exact' }).order('id').range(0, 1),
  count_all: (c) => c.from('notes').select('id', { count: 'exact' }).order('id'),
  count_head: (c) => c.from('notes').select('*', { count: 'exact', head: true }),
  count_estimated: (c) => c.from('notes').select('id', { count: 'estimated' }).order('id').range(0, 1),
  count_planned: (c) => c.from('notes').select('id', { count: 'planned' }).order('id').range(0, 1),
  single: (c) => c.from('notes').select('id,title').eq('id', 2).single(),
  single_none: (c) => c.from('notes').select('id').eq('id', 999).single(),
  single_many: (c) => c.from('notes').select('id').single(),
  maybe_single_none: (c) => c.from('notes').select('id').eq('id', 999).maybeSingle(),

  // --- operators -----------------------------------------------------------
  like_any: (c) => c.from('notes').select('id').likeAnyOf('title', ['%ta', 'al%']).order('id'),
  like_all: (c) => c.from('notes').select('id').likeAllOf('title', ['%a%', '%t%']).order('id'),
  eq_any: (c) => c.from('notes').select('id').filter('id', 'eq(any)', '{1,3}').order('id'),
  eq_any_quoted: (c) => c.from('notes').select('id').filter('title', 'eq(any)', '{"a,b (q)",alpha}').order('id'),
  ilike_any_none: (c) => c.from('notes').select('id').filter('title', 'ilike(any)', '{}'),
  eq_all_none: (c) => c.from('notes').select('id').filter('title', 'eq(all)', '{}').order('id'),
  isdistinct: (c) => c.from('notes').select('id').filter('body', 'isdistinct', 'first').order('id'),
  not_isdistinct: (c) => c.from('notes').select('id').not('body', 'isdistinct', 'first').order('id'),
  or_any: (c) => c.from('notes').select('id').or('id.eq(any).{2,3},title.eq.none').order('id'),
  match: (c) => c.from('notes').select('id').filter('title', 'match', '^[ab]').order('id'),
  imatch: (c) => c.from('notes').select('id').filter('title', 'imatch', '^A').order('id'),
  fts: (c) => c.from('notes').select('id').textSearch('title', 'alpha | beta').order('id'),
  plfts_english: (c) => c.from('notes').select('id').textSearch('body', 'first', { type: 'plain', config: 'english' }),
  phfts: (c) => c.from('notes').select('id').textSearch('body', 'quoted', { type: 'phrase' }),
  wfts: (c) => c.from('notes').select('id').textSearch('title', 'gamma', { type: 'websearch' }),
  cs_array: (c) => c.from('docs').select('id').contains('tags', ['a', 'b']).order('id'),
  cd_array: (c) => c.from('docs').select('id').containedBy('tags', ['a', 'b', 'c']).order('id'),
  ov_array: (c) => c.from('docs').select('id').overlaps('tags', ['c', 'z']).order('id'),
  cs_jsonb: (c) => c.from('docs').select('id').contains('meta', { k: 1 }).order('id'),

  // --- dry runs (Prefer: tx=rollback) ----------------------------------------
  rollback_insert: (c) => c.from('notes').insert({ title: 'dry' }).select('id,title').rollback(),
  rollback_update: (c) => c.from('notes').update({ body: 'dry' }).eq('id', 1).select('id,body').rollback(),
  rollback_delete: (c) => c.from('notes').delete().lte('id', 2).select('id').rollback(),
  rollback_put_check: (c) => c.from('notes').select('id').limit(1),

  // --- Prefer: missing=default (defaultToNull: false) ---------------------------
  missing_default: (c) => c.from('notes')
    .insert([{ title: 'm1', created_at: '2001-02-03 04:05:06' }, { title: 'm2' }], { defaultToNull: false })
    .select('title'),
  missing_null: (c) => c.from('notes')
    .insert([{ title: 'n1', created_at: '2001-02-03 04:05:06' }, { title: 'n2' }]).select('title'),

  // --- CSV -----------------------------------------------------------------
  csv_out: (c) => c.from('notes').select('id,title,body').order('id').csv(),
  csv_embed: (c) => c.from('books').select('id,comments(id)').lte('id', 2).order('id').csv(),

  // --- embedding ---------------------------------------------------------
  embed_to_one: (c) => c.from('books').select('id,authors!author_id(name)').order('id'),
  embed_aliases: (c) => c.from('books')
    .select('title,writer:authors!author_id(name),editor:authors!editor_id(name)').order('id'),
  embed_ambiguous: (c) => c.from('books').select('id,authors(name)'),
  embed_unknown: (c) => c.from('books').select('id,nosuch(*)'),
  embed_not_exposed: (c) => c.from('books').select('id,secrets(*)'),
  embed_to_many: (c) => c.from('books').select('id,comments(id,body,approved)').order('id'),
  embed_nested: (c) => c.from('comments').select('id,books(title,authors!author_id(name))').order('id'),
  embed_authors_books: (c) => c.from('authors').select('name,books!author_id(title)').order('id'),
  embed_inner: (c) => c.from('books').select('id,comments!inner(id)').order('id'),
  embed_filter: (c) => c.from('books').select('id,comments(id)').eq('comments.approved', true).order('id'),
  embed_inner_filter: (c) => c.from('books').select('id,comments!inner(id)').eq('comments.id', 3),
  embed_order_limit: (c) => c.from('books').select('id,comments(id)').lte('id', 2).order('id')
    .order('id', { referencedTable: 'comments', ascending: false })
    .limit(1, { referencedTable: 'comments' }),
  embed_inner_count: (c) => c.from('books').select('id,comments!inner(id)', { count: 'exact' }).order('id'),

  // --- writing -----------------------------------------------------------
  insert_one: (c) => c.from('notes').insert({ title: 'one' }).select('id,title'),
  insert_minimal: (c) => c.from('notes').insert({ title: 'quiet' }),
  insert_bulk: (c) => c.from('notes').insert([{ title: 'b1' }, { title: 'b2', body: 'x' }]).select('title,body'),
  insert_bulk_conflict: (c) => c.from('kinds').insert([{ t: 'fresh' }, { t: 'dup' }]),
  upsert_merge: (c) => c.from('keyed').upsert([{ k: 'a', v: 'new' }, { k: 'c', v: 'c1' }]).select('k,v'),
  upsert_ignore: (c) => c.from('keyed').upsert([{ k: 'a', v: 'ignored' }, { k: 'd', v: 'd1' }],
    { ignoreDuplicates: true }).select('k,v'),
  update_filter: (c) => c.from('notes').update({ body: 'patched' }).gte('id', 3).select('id,body'),
  update_no_filter: (c) => c.from('notes').update({ body: 'all' }),
  update_single: (c) => c.from('notes').update({ body: 'one' }).eq('id', 3).select('id,body').single(),
  update_single_many: (c) => c.from('notes').update({ body: 'many' }).gte('id', 3).select('id').single(),
  insert_single: (c) => c.from('notes').insert({ title: 'solo' }).select('title').single(),
  insert_bulk_single: (c) => c.from('notes').insert([{ title: 's1' }, { title: 's2' }]).select('title').single(),
  delete_minimal: (c) => c.from('notes').delete().eq('id', 5),
  delete_filter: (c) => c.from('notes').delete().in('id', [1, 2]).select('id'),
  delete_no_filter: (c) => c.from('notes').delete(),
  after_writes: (c) => c.from('notes').select('id,title,body').order('id'),
  keyed_rows: (c) => c.from('keyed').select('k,v'),
  kinds_rows: (c) => c.from('kinds').select('t').order('id'),

  // --- rpc -----------------------------------------------------------------
  rpc_scalar: (c) => c.rpc('add_them', { a: 1, b: 2 }),
  rpc_rows: (c) => c.rpc('notes_from', { min_id: 4 }),
  rpc_get: (c) => c.rpc('notes_from', { min_id: 4 }, { get: true }),
  rpc_shaped: (c) => c.rpc('notes_from', { min_id: 2 }).select('id').gt('id', 2)
    .order('id', { ascending: false }).limit(2),
  rpc_single: (c) => c.rpc('notes_from', { min_id: 5 }).single(),
  rpc_unknown: (c) => c.rpc('nosuch', {}),
  rpc_bad_argument: (c) => c.rpc('notes_from', { nosuch: 1 }),
};

function plain(result) {
  return {
    status: result.status,
    data: result.data === undefined ? null : result.data,
    error: result.error === undefined ? null : result.error,
    count: result.count === undefined ? null : result.count,
  };
}

async function main() {
  const [url, ...names] = process.argv.slice(2);
  if (!url || names.length === 0) {
    console.error('usage: node scenarios.js URL NAME...');
    process.exit(2);
  }
  const token = process.env.PGJS_TOKEN;
  const client = new PostgrestClient(url, token ? { headers: { Authorization: 'Bearer ' + token } } : {});
  const out = {};
  for (const name of names) {
    const run = scenarios[name];
    if (!run) {
      console.error('unknown scenario: ' + name);
      process.exit(2);
    }
    try {
      out[name] = plain(await run(client));
    } catch (e) {
      out[name] = { status: null, data: null, error: { thrown: String(e) }, count: null };
    }
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main();
