from services.collections.store.tables import metadata
from services.runtime.migration_env import run_migrations
from services.runtime.tables import runtime_metadata

run_migrations([metadata, runtime_metadata])
