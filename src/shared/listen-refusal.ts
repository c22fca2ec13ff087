/**
 * Why a server of ours could not listen, when the reason is a setting to change (another process
 * holds the port, the host has no such address, the port needs privileges): the message naming
 * the address and the settings that move it. Shared by the API, the codec server and the LLM
 * simulator (which loads nothing of the app's), each exiting 2 with it.
 */

/** Who listens, and the settings that move it: named when the address cannot be had. */
export interface ListenSettings {
  /** The process, as its command is typed ("storyloom serve"). */
  command: string;
  port: string;
  host: string;
}

/** The refusal's message for a listen error that is a setting to change; undefined for any other error. */
export function listenRefusalMessage(err: unknown, host: string, port: number, settings: ListenSettings): string | undefined {
  const code = (err as { code?: unknown } | undefined)?.code;
  const where = `${host.includes(':') ? `[${host}]` : host}:${port}`;
  if (code === 'EADDRINUSE') {
    return `${where} is already in use (another \`${settings.command}\`?): stop that process, or listen on another port with ${settings.port}.`;
  }
  if (code === 'EADDRNOTAVAIL') return `${where}: this host has no address ${host}: listen on one of its own with ${settings.host}.`;
  if (code === 'EACCES') return `${where}: not allowed to listen on port ${port} (ports below 1024 need privileges): choose another with ${settings.port}.`;
  return undefined;
}
