terraform {
  required_version = ">= 1.11, < 2.0"

  required_providers {
    azurerm = {
      source  = "hashicorp/azurerm"
      version = ">= 5.0, < 6.0"
    }
  }

  # Entra ID + OIDC, no access keys. storage_account_name comes from
  # `terraform init -backend-config=storage_account_name=<account made by the bootstrap script>`.
  backend "azurerm" {
    use_oidc         = true
    use_azuread_auth = true
    container_name   = "tfstate"
    key              = "aigateway/uat.tfstate"
  }
}
