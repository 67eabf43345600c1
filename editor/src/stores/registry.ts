// The node types the server offers (GET /api/nodes), the packs they come from and the packs that failed to load.
import { defineStore } from 'pinia';
import { computed, ref } from 'vue';
import { NodesResponseSchema, type NodeTypeInfoWire } from '@server/wire.ts';
import { api } from '../api/client.ts';

export const useRegistryStore = defineStore('registry', () => {
  const nodes = ref<NodeTypeInfoWire[]>([]);
  const packs = ref<{ name: string; path: string; nodes: number }[]>([]);
  const packErrors = ref<{ pack: string; path: string; message: string }[]>([]);
  const loaded = ref(false);
  const error = ref<string | null>(null);

  const byTypeMap = computed(() => new Map(nodes.value.map((n) => [n.type, n])));
  const categories = computed(() => {
    const out = new Map<string, NodeTypeInfoWire[]>();
    for (const n of nodes.value) out.set(n.category, [...(out.get(n.category) ?? []), n]);
    return [...out.entries()].sort(([a], [b]) => a.localeCompare(b));
  });

  function byType(type: string): NodeTypeInfoWire | undefined {
    return byTypeMap.value.get(type);
  }

  /** Replaces the registry with a server answer (also used by tests). */
  function setFrom(answer: unknown): void {
    const parsed = NodesResponseSchema.parse(answer);
    nodes.value = parsed.nodes;
    packs.value = parsed.packs;
    packErrors.value = parsed.packErrors;
    loaded.value = true;
    error.value = null;
  }

  async function load(): Promise<void> {
    try {
      setFrom(await api('/api/nodes', NodesResponseSchema));
    } catch (err) {
      error.value = err instanceof Error ? err.message : String(err);
      throw err;
    }
  }

  return { nodes, packs, packErrors, loaded, error, categories, byType, setFrom, load };
});
