# Shared per-minute limits: one Azure Managed Redis per environment (on in prod), so N replicas enforce one
# limit rather than N. Entra ID only: access keys are off, so no key exists to leak and none enters state
# (azurerm lists keys only when access keys are on); the app's identity signs in with a token
# (GATEWAY_REDIS_AUTH=entra). Public endpoint, TLS only: the Consumption Container Apps environment has no
# VNet to put a private endpoint in (infra/README.md). If Redis is unreachable the gateway counts per
# replica and keeps serving.
resource "azurerm_managed_redis" "this" {
  count = local.shared_limits_enabled ? 1 : 0

  name                      = local.names.redis
  resource_group_name       = data.azurerm_resource_group.this.name
  location                  = local.location
  sku_name                  = var.shared_limits_redis_sku
  high_availability_enabled = var.env == "prod"
  public_network_access     = "Enabled"
  tags                      = local.tags

  default_database {
    access_keys_authentication_enabled = false
    client_protocol                    = "Encrypted"
    # One endpoint that routes for the client: the limiter's Lua script runs on one key and
    # redis.asyncio.Redis needs no cluster awareness.
    clustering_policy = "EnterpriseCluster"
    eviction_policy   = "NoEviction"
  }
}

# The data-plane "default" access policy for the app's identity (token auth with its object id).
resource "azurerm_managed_redis_access_policy_assignment" "gateway" {
  count = local.shared_limits_enabled ? 1 : 0

  managed_redis_id = azurerm_managed_redis.this[0].id
  object_id        = local.identity.principal_id
}

locals {
  redis_url = local.shared_limits_enabled ? "rediss://${azurerm_managed_redis.this[0].hostname}:${azurerm_managed_redis.this[0].default_database[0].port}" : ""
}
