export type PanelTab = 'results' | 'queue' | 'history' | 'workflows' | 'console';
