# RBAC-mode vault. Terraform creates the vault and grants read access; the secret VALUES are written by
# the secrets script (scripts/), so no secret ever enters Terraform state or this repository.
resource "azurerm_key_vault" "this" {
  # The Consumption Container Apps environment has no VNet, so the app reaches the vault over its
  # public endpoint; access is Entra RBAC only. key_vault_allowed_ip_ranges turns the firewall to Deny.
  #checkov:skip=CKV_AZURE_109:Firewall is variable-driven (key_vault_allowed_ip_ranges); open by default because ACA Consumption egress IPs are not fixed.
  #checkov:skip=CKV_AZURE_189:Public network access is a variable (key_vault_public_network_access_enabled); the app has no private network path to the vault.
  #checkov:skip=CKV2_AZURE_32:Private endpoints need a VNet-integrated environment, out of scope for the Consumption plan (see infra/README.md).
  name                          = local.names.key_vault
  location                      = azurerm_resource_group.this.location
  resource_group_name           = azurerm_resource_group.this.name
  tenant_id                     = data.azurerm_client_config.current.tenant_id
  sku_name                      = "standard"
  rbac_authorization_enabled    = true
  soft_delete_retention_days    = var.key_vault_soft_delete_retention_days
  purge_protection_enabled      = local.purge_protection_enabled
  public_network_access_enabled = var.key_vault_public_network_access_enabled
  tags                          = local.tags

  network_acls {
    bypass         = "AzureServices"
    default_action = length(var.key_vault_allowed_ip_ranges) > 0 ? "Deny" : "Allow"
    ip_rules       = var.key_vault_allowed_ip_ranges
  }

  lifecycle {
    precondition {
      condition     = length(local.names.key_vault) >= 3 && length(local.names.key_vault) <= 24 && can(regex("^[a-z][a-z0-9-]*[a-z0-9]$", local.names.key_vault)) && !can(regex("--", local.names.key_vault))
      error_message = "Key Vault name ${local.names.key_vault} breaks Azure's rule (3-24 chars, letters/digits/single hyphens, starts with a letter); shorten org_prefix or workload_short."
    }
  }
}

resource "azurerm_role_assignment" "key_vault_secrets_user" {
  scope                            = azurerm_key_vault.this.id
  role_definition_name             = "Key Vault Secrets User"
  principal_id                     = azurerm_user_assigned_identity.this.principal_id
  principal_type                   = "ServicePrincipal"
  skip_service_principal_aad_check = true
}
