// Values the tiers' global setups hand to tests through vitest's provide/inject.
export interface ClusterContext {
  /** Admin kubeconfig of the running cluster. */
  kubeconfig: string;
  /** The cluster's name (state dir ~/.cache/scaleswe/cluster/<name>). */
  clusterName: string;
  /** The kubectl built with the cluster. */
  kubectl: string;
  /** apiserver URL (https://127.0.0.1:<port>). */
  server: string;
  mode: 'control-plane' | 'node';
  /** Sandbox images imported into the node's containerd (e2e only). */
  images: string[];
}

declare module 'vitest' {
  export interface ProvidedContext {
    cluster: ClusterContext;
  }
}
