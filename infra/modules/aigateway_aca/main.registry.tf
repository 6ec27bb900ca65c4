# Private registry for the gateway image. No admin user: the pipeline pushes with its Entra identity
# (AcrPush) and the app pulls with the user-assigned identity (AcrPull).
resource "azurerm_container_registry" "this" {
  # Basic SKU on purpose (one small image, ~5 USD/month). The checks below need Premium-only features
  # (or Defender), which cost ~10x and buy nothing for a single-region, single-image registry:
  #checkov:skip=CKV_AZURE_139:Public endpoint needed: GitHub-hosted runners push and ACA pulls without a VNet; pushes and pulls need Entra RBAC (no admin user, no anonymous pull).
  #checkov:skip=CKV_AZURE_163:Vulnerability scanning is Microsoft Defender for Containers, enabled per subscription, not per registry.
  #checkov:skip=CKV_AZURE_164:Content trust needs Premium; images are pinned by digest, which is stronger than a signed tag for deployment.
  #checkov:skip=CKV_AZURE_165:Geo-replication needs Premium; the app runs in one region.
  #checkov:skip=CKV_AZURE_166:Quarantine needs Premium; only the pipeline can push (AcrPush), images are smoke-tested before deploy.
  #checkov:skip=CKV_AZURE_167:Retention policy for untagged manifests needs Premium; the pipeline pushes one tagged image per commit.
  #checkov:skip=CKV_AZURE_233:Zone redundancy needs Premium; a registry outage only delays deployments, not traffic (replicas keep their image).
  #checkov:skip=CKV_AZURE_237:Dedicated data endpoints need Premium and only matter behind a firewall, which this registry does not have.
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
