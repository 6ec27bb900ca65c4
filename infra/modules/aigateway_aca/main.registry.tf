# Private registry for the gateway image. No admin user: the pipeline pushes with its Entra identity
# (AcrPush) and the app pulls with the user-assigned identity (AcrPull).
resource "azurerm_container_registry" "this" {
  name                = local.names.container_registry
  location            = azurerm_resource_group.this.location
  resource_group_name = azurerm_resource_group.this.name
  sku                 = "Basic"
  admin_enabled       = false
  tags                = local.tags

  lifecycle {
    precondition {
      condition     = can(regex("^[a-z0-9]{5,50}$", local.names.container_registry))
      error_message = "Registry name ${local.names.container_registry} breaks Azure's rule (5-50 lower-case alphanumerics)."
    }
  }
}

resource "azurerm_role_assignment" "acr_pull" {
  scope                            = azurerm_container_registry.this.id
  role_definition_name             = "AcrPull"
  principal_id                     = azurerm_user_assigned_identity.this.principal_id
  principal_type                   = "ServicePrincipal"
  skip_service_principal_aad_check = true
}
