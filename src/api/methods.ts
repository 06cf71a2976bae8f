/**
 * Which methods each registered path answers, so a known path asked with another method is
 * a 405 with an `Allow` header (as Neutron answers), not a 404.
 */
import type { RouteOptions } from 'fastify';

interface PathMethods {
  pattern: RegExp;
  methods: Set<string>;
}

export class MethodIndex {
  private readonly byUrl = new Map<string, PathMethods>();

  onRoute = (route: RouteOptions): void => {
    const url = route.url;
    if (url === undefined) return;
    let entry = this.byUrl.get(url);
    if (!entry) {
      const source = url
        .split('/')
        .map((seg) => (seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
        .join('/');
      entry = { pattern: new RegExp(`^${source}/?$`), methods: new Set() };
      this.byUrl.set(url, entry);
    }
    for (const m of Array.isArray(route.method) ? route.method : [route.method])
      entry.methods.add(m);
  };

  /** The methods the path answers (empty when no route has this path). */
  allowed(path: string): string[] {
    const out = new Set<string>();
    for (const e of this.byUrl.values()) {
      if (e.pattern.test(path)) for (const m of e.methods) out.add(m);
    }
    return [...out].sort();
  }
}
