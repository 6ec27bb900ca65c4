terraform {
  required_version = ">= 1.11, < 2.0"

  required_providers {
    # One provider only: every extra provider (time, random, azapi) would need its own offline schema to be
    # validated here. The roots pin the exact version; the module states the range it is written for.
    azurerm = {
      source  = "hashicorp/azurerm"
      version = ">= 5.10, < 6.0"
    }
  }
}
