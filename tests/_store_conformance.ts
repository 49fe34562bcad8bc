// The conformance suite: everything a store must pass, both its own contract
// and the cache's whole behaviour contract running over it. Each store's test
// file calls describeStoreConformance once per configuration.

import { describeCacheBounds } from "./_cache_bounds.ts";
import { describeCacheFaults } from "./_cache_faults.ts";
import {
  type ConformanceOptions,
  describeCacheSemantics,
} from "./_cache_semantics.ts";
import { describeStoreByob } from "./_store_byob.ts";
import { describeStoreCapabilities } from "./_store_capabilities.ts";
import { describeStoreContract, type StoreFactory } from "./_store_contract.ts";

export type { ConformanceOptions } from "./_cache_semantics.ts";
export type { StoreFactory } from "./_store_contract.ts";

export function describeStoreConformance(
  name: string,
  make: StoreFactory,
  options: ConformanceOptions = {},
): void {
  describeStoreContract(name, make);
  describeStoreCapabilities(name, make);
  describeStoreByob(name, make);
  describeCacheSemantics(name, make, options);
  describeCacheFaults(name, make);
  describeCacheBounds(name, make);
}
