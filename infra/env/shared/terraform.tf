terraform {
  required_version = ">= 1.11, < 2.0"

  required_providers {
    # Exact: the plan a reviewer approves and the apply that follows run the same provider build.
    azurerm = {
      source  = "hashicorp/azurerm"
      version = "5.10.0"
    }
  }

  # Entra ID + OIDC, no access keys. The account and the environment's own container come from
  # `terraform init -backend-config=storage_account_name=<account> -backend-config=container_name=tfstate-<env>`
  # (scripts/deploy.py passes both; docs/deploy.md shows the laptop form).
  backend "azurerm" {
    use_oidc         = true
    use_azuread_auth = true
    key              = "aigateway.tfstate"
  }
}

# Subscription and tenant come from ARM_SUBSCRIPTION_ID / ARM_TENANT_ID / ARM_CLIENT_ID (pipeline: OIDC;
# a laptop: the Azure CLI login, with ARM_SUBSCRIPTION_ID exported, which azurerm 4+ requires).
provider "azurerm" {
  features {}

  use_oidc            = true
  storage_use_azuread = true

  # The pipeline's identities hold roles on one resource group only and cannot register resource
  # providers; scripts/bootstrap_env.py registers the ones this stack uses, once, as an Owner.
  resource_provider_registrations = "none"
}
