# Subscription and tenant come from ARM_SUBSCRIPTION_ID / ARM_TENANT_ID / ARM_CLIENT_ID (pipeline: OIDC;
# a laptop: falls back to the Azure CLI login).
provider "azurerm" {
  features {}

  use_oidc            = true
  storage_use_azuread = true

  # azurerm 5.x registers nothing by default; register exactly what this stack uses.
  resource_provider_registrations = "none"
  resource_providers_to_register = [
    "Microsoft.App",
    "Microsoft.ContainerRegistry",
    "Microsoft.Insights",
    "Microsoft.KeyVault",
    "Microsoft.ManagedIdentity",
    "Microsoft.OperationalInsights",
  ]
}
