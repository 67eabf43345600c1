// The natural size of an image URL (to locate tiles in a grid PNG), loaded once per URL.
import { ref, watch, type Ref } from 'vue';

export function useNaturalSize(src: Ref<string | null>): Ref<{ w: number; h: number } | null> {
  const size = ref<{ w: number; h: number } | null>(null);
  watch(src, (url) => {
    size.value = null;
    if (!url) return;
    const img = new Image();
    img.onload = () => { if (src.value === url) size.value = { w: img.naturalWidth, h: img.naturalHeight }; };
    img.src = url;
  }, { immediate: true });
  return size;
}
