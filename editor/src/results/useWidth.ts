// The content width of an element, kept current with a ResizeObserver (views size their image tiles to fit).
import { onBeforeUnmount, onMounted, ref, type Ref } from 'vue';

export function useWidth(el: Ref<HTMLElement | null>): Ref<number> {
  const width = ref(0);
  let observer: ResizeObserver | undefined;
  onMounted(() => {
    if (!el.value) return;
    width.value = el.value.clientWidth;
    observer = new ResizeObserver(([entry]) => { width.value = entry!.contentRect.width; });
    observer.observe(el.value);
  });
  onBeforeUnmount(() => observer?.disconnect());
  return width;
}
