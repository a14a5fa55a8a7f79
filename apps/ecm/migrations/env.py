from apps.common.migrations_env import run

run()
