// The containers of an lxcpath and what ls/info show about each.
import { existsSync, readdirSync } from "node:fs";
import type { ContainerSpec } from "../spec/types.ts";
import { errorMessage } from "../util/errors.ts";
import type { Context } from "./context.ts";
import { netInfo, type NetInfo } from "./netinfo.ts";
import { loadSpec, openCgroup, status, type Status } from "./state.ts";
import { runDir } from "./context.ts";

export function containerNames(ctx: Context): string[] {
  let entries: string[];
  try {
    entries = readdirSync(ctx.lxcpath);
  } catch {
    return [];
  }
  return entries.filter((n) => existsSync(`${ctx.lxcpath}/${n}/config`)).sort();
}

export interface Row {
  name: string;
  status: Status;
  spec?: ContainerSpec;
  specError?: string;
  net?: NetInfo;
}

export function describe(ctx: Context, name: string, o: { net?: boolean } = {}): Row {
  const row: Row = { name, status: status(ctx, name) };
  try {
    row.spec = loadSpec(ctx, name);
  } catch (e) {
    row.specError = errorMessage(e);
  }
  if (o.net && row.status.initPid && row.status.state !== "STOPPED") row.net = netInfo(row.status.initPid);
  return row;
}

export function stats(ctx: Context, name: string) {
  const cg = openCgroup(runDir(ctx, name));
  if (!cg) return undefined;
  try {
    return cg.stats();
  } catch {
    return undefined;
  }
}
