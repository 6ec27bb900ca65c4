# Resource group and identity. Other topics: main.monitoring.tf, main.keyvault.tf, main.registry.tf,
# main.containerapp.tf, main.alerts.tf.

data "azurerm_client_config" "current" {}

resource "azurerm_resource_group" "this" {
  name     = local.names.resource_group
  location = var.location
  tags     = local.tags

  lifecycle {
    precondition {
      condition     = local.location_short != "unknown"
      error_message = "No short code for location ${var.location}: pass location_short."
    }
  }
}

# The app's only identity. User-assigned, so it exists (and holds its roles) before the Container App
# is created: a system-assigned identity cannot read Key Vault references during the app's own creation.
resource "azurerm_user_assigned_identity" "this" {
  name                = local.names.identity
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  tags                = local.tags
}

# Keyless Azure OpenAI (azure_openai_auth = entra): the identity may call the deployments, nothing more.
resource "azurerm_role_assignment" "openai_user" {
  count = var.azure_openai_auth == "entra" ? 1 : 0

  scope                            = var.azure_openai_resource_id
  role_definition_name             = "Cognitive Services OpenAI User"
  principal_id                     = azurerm_user_assigned_identity.this.principal_id
  principal_type                   = "ServicePrincipal"
  skip_service_principal_aad_check = true
}
