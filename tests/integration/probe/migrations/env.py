from services.runtime.migration_env import run_migrations
from services.runtime.tables import runtime_metadata
from tests.integration.probe.schema import metadata

run_migrations([metadata, runtime_metadata])
