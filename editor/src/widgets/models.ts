// The models a model picker offers (GET /api/models), fetched once per page; null until loaded or when unavailable.
import { ref } from 'vue';
import { ModelsResponseSchema, type ModelInfo } from '@server/wire.ts';
import { api } from '../api/client.ts';

const models = ref<ModelInfo[] | null>(null);
let started = false;

export function useModels() {
  if (!started) {
    started = true;
    api('/api/models', ModelsResponseSchema).then((r) => (models.value = r.models), () => (models.value = null));
  }
  return models;
}
