/**
 * Tensor element types, as the native traits table (kernels/types.cpp) defines them. TS never keeps
 * its own copy of block sizes: it asks the addon once.
 */
import { loadAddon } from "../native/load.js";

export interface TypeInfo {
  id: number;
  name: string;
  blockSize: number;
  typeSize: number;
  supported: boolean;
}

let table: Map<number, TypeInfo> | null = null;

function traits(): Map<number, TypeInfo> {
  if (!table) table = new Map(loadAddon().typeTraits().map((t: TypeInfo) => [t.id, t]));
  return table;
}

/** Traits for a type id, or undefined for an id nobody knows. */
export function typeInfo(id: number): TypeInfo | undefined {
  return traits().get(id);
}

export function typeByName(name: string): TypeInfo | undefined {
  for (const t of traits().values()) if (t.name.toLowerCase() === name.toLowerCase()) return t;
  return undefined;
}
