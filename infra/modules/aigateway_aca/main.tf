# What the bootstrap made (scripts/bootstrap_env.py), read here, never managed here: the resource group,
# the app's user-assigned identity and the Key Vault, with every role assignment the app needs. They exist
# before the first apply, so that apply creates a serving app in one pass (the vault already holds the
# secrets the app references; the identity's roles have had time to propagate), and no identity that
# runs Terraform needs the right to grant roles. Other topics: main.monitoring.tf, main.containerapp.tf,
# main.redis.tf, main.alerts.tf.

data "azurerm_resource_group" "this" {
  name = local.names.resource_group
}

data "azurerm_user_assigned_identity" "this" {
  name                = local.names.identity
  resource_group_name = data.azurerm_resource_group.this.name
}

# The vault's name carries a suffix that makes it globally unique (chosen by the bootstrap), so it is
# found as the one vault in the group rather than recomputed here.
data "azurerm_resources" "key_vault" {
  resource_group_name = data.azurerm_resource_group.this.name
  type                = "Microsoft.KeyVault/vaults"

  lifecycle {
    postcondition {
      condition     = length(self.resources) == 1
      error_message = "Expected exactly one Key Vault in ${local.names.resource_group}, found ${length(self.resources)}: run scripts/bootstrap_env.py for this environment (docs/deploy.md)."
    }
  }
}
