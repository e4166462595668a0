// Type-level tests of the client's declarations (checked by tsc, never run):
// operation names and parameters, states, options. Each @ts-expect-error
// line must fail to type-check, or tsc reports the directive as unused.
import {
  call, pages, paginate, parseFetchResponse, RackspaceIdentity,
  type AuthProvider, type CallOptions, type JsonValue, type OperationName, type OperationParams,
  type PagedOperationName, type RestoreState, type StateOf, type States,
} from '../index.js';

declare const options: CallOptions;
declare const response: Response;

export async function operations(): Promise<JsonValue[]> {
  const results: JsonValue[] = [
    await call('v2.restores.get_restore', { restore_id: 'e87e6f7d' }, options),
    await call('v2.settings.ping', null, options),
    await call('v2.settings.ping', {}, options),
    await call('v2.restores.list_restores', undefined, options),
    await call('v2.restores.list_restores', { page: { limit: 10, sort_dir: 'desc', marker: 'm' } }, options),
    await call('v1.agents.change_log_level', { machine_agent_id: 42, level: 'Debug' }, options),
    await call('v1.backups.request_backup_action', { action: 'StartManual', id: 148325 }, options),
    await call('v2.logfiles.update_logfile', { agent_id: 'a', logfile_id: 'l', state: 'started' }, options),
    await call('v2.backups.start_backup', { body: { configuration_id: 'c' }, agent_id: 'a' }, options),
    await parseFetchResponse('v2.restores.get_restore', { restore_id: 'r' }, response),
  ];
  // @ts-expect-error: no such operation (a typo of get_restore)
  await call('v2.restores.get_restor', { restore_id: 'x' }, options);
  // @ts-expect-error: restore_id is required
  await call('v2.restores.get_restore', {}, options);
  // @ts-expect-error: unknown member
  await call('v2.restores.get_restore', { restore_id: 'x', restore: 'x' }, options);
  // @ts-expect-error: v1 log levels are the core's names
  await call('v1.agents.change_log_level', { machine_agent_id: 42, level: 'Verbose' }, options);
  // @ts-expect-error: v1 ids are numbers, or their digits as text, never booleans
  await call('v1.agents.delete_agent', { machine_agent_id: true }, options);
  // @ts-expect-error: sort_dir is asc or desc
  await call('v2.restores.list_restores', { page: { sort_dir: 'up' } }, options);
  // @ts-expect-error: a logfile state
  await call('v2.logfiles.update_logfile', { agent_id: 'a', logfile_id: 'l', state: 'stopped' }, options);
  // @ts-expect-error: a body is an object
  await call('v2.backups.start_backup', { body: 'c' }, options);
  // @ts-expect-error: options need auth
  await call('v2.settings.ping', null, { baseUrl: 'https://h' });
  for await (const item of paginate('v2.restores.list_restores', { page: { limit: 2 } }, options)) results.push(item);
  for await (const page of pages('v1.configurations.list_backup_configurations', null, options)) results.push(page);
  return results;
}

export function names(all: OperationName[], paged: PagedOperationName): OperationName[] {
  const p: OperationParams['v2.restores.list_restores'] = { page: { limit: 1 } };
  void p;
  return [...all, paged];
}

export function states(): string[] {
  const running: RestoreState = 'in_progress';
  const missed: StateOf<'backup'> = 'missed';
  const requested: States['logfile'] = 'requested';
  // @ts-expect-error: a restore is never missed
  const wrong: RestoreState = 'missed';
  return [running, missed, requested, wrong];
}

export function auth(): AuthProvider[] {
  const byKey = new RackspaceIdentity({ username: 'u', apiKey: 'k', region: 'DFW' });
  const byPassword = new RackspaceIdentity({ username: 'u', password: 'p', urlType: 'internalURL' });
  // @ts-expect-error: an API key or a password
  const neither = new RackspaceIdentity({ username: 'u' });
  // @ts-expect-error: not both
  const both = new RackspaceIdentity({ username: 'u', apiKey: 'k', password: 'p' });
  // @ts-expect-error: publicURL or internalURL
  const other = new RackspaceIdentity({ username: 'u', apiKey: 'k', urlType: 'adminURL' });
  const custom: AuthProvider = { session: async () => ({ token: 't', tenantId: '1', baseUrl: 'https://h' }) };
  return [byKey, byPassword, neither, both, other, custom];
}
